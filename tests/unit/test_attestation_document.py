"""The attestation document (attestations/document/): canonical JSON, build, sign, verify,
the signing key file and the published files."""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import os
import random
import re
import stat
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from attestations.document.canonical import (
    MAX_SAFE_INT,
    SIGNING_TAG,
    canonical_json,
    signing_payload,
)
from attestations.document.files import load_attestation, loads_attestation, write_attestation
from attestations.document.model import ChainEntry, PriceQuote, RulePackRef, WalletEntry
from attestations.document.parse import parse_attestation
from attestations.document.sign import (
    build_attestation,
    public_key_hex,
    sign_attestation,
    verify_attestation,
    verify_attestation_signature,
)
from attestations.encoding import AssetSpec, commitment
from attestations.proofs import RootDocument, SumNode
from chains.base import Attribution, BlockRef, Chain, WalletClass
from chains.btc_address import AddressType, DecodedAddress, encode_address
from chains.challenge import challenge
from verifier.base.errors import AttestationError, InputError, InvalidProof
from verifier.inputs.keys import create_signing_key, load_signing_key

DOCS = Path(__file__).resolve().parents[2] / "docs" / "attestation.md"
ATTESTATION_ID = "exch-2026-11"
EXCHANGE = "Example Exchange"
AS_OF = "2026-11-21T00:00:00Z"
BTC_BLOCK = BlockRef(Chain.BITCOIN, "regtest", 432, "0f" * 32)
ETH_BLOCK = BlockRef(Chain.ETHEREUM, "31337", 12, "ab" * 32)
# a fixed test key (never used outside these tests), so documents are reproducible
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))


def btc_address(n: int) -> str:
    return encode_address(DecodedAddress(AddressType.P2WPKH, bytes([n]) * 20, 0), "regtest")


def root_document(attestation_id: str = ATTESTATION_ID) -> dict[str, Any]:
    assets = (AssetSpec("BTC", 8), AssetSpec("ETH", 18))
    root_hash = hashlib.sha256(b"root").digest()
    sums = (250_000_000, 3 * 10**18)
    return RootDocument(
        attestation_id=attestation_id,
        as_of=AS_OF,
        assets=assets,
        height=3,
        root=SumNode(root_hash, sums),
        commitment=commitment(attestation_id, assets, 3, root_hash, sums),
    ).to_json()


def chain_entries() -> list[ChainEntry]:
    btc_text = challenge(EXCHANGE, ATTESTATION_ID, BTC_BLOCK)
    return [
        ChainEntry(
            BTC_BLOCK,
            (
                WalletEntry(
                    btc_address(1),
                    "cold-1",
                    WalletClass.COLD,
                    Attribution.CUSTOMER,
                    {"BTC": 200_000_000},
                    {"scheme": "bip137", "message": btc_text, "signature": "H3k+sig="},
                ),
                WalletEntry(
                    btc_address(2),
                    "vault",
                    WalletClass.COLD,
                    Attribution.CUSTOMER,
                    {"BTC": 60_000_000},
                    {
                        "scheme": "p2wsh-multisig",
                        "signatures": ["H1sig=", "I2sig="],
                        "witness_script": "5221" + "02" * 33 + "52ae",
                    },
                ),
                WalletEntry(
                    btc_address(3),
                    "",
                    WalletClass.CUSTODIAL,
                    Attribution.OWN,
                    {"BTC": 0},
                    None,
                ),
            ),
        ),
        ChainEntry(
            ETH_BLOCK,
            (
                WalletEntry(
                    "0x" + "1f" * 20,
                    "hot",
                    WalletClass.HOT,
                    Attribution.CUSTOMER,
                    {"ETH": 4 * 10**18, "USDT": 5_000_000},
                    {"scheme": "eip191", "signature": "0x" + "aa" * 65},
                ),
            ),
        ),
    ]


RESERVE: dict[str, Any] = {
    "cash": [{"holder": "Trust Bank", "currency": "JPY", "amount": "2000000000", "on_trust": True}],
    "insurance": [
        {
            "insurer": "Example Re",
            "limit": "5000000000",
            "deductible": "500000000",
            "start": "2026-01-01",
            "end": "2026-12-31",
            "notice_days": 90,
            "perils": ["hack", "insider"],
        }
    ],
    "guarantees": [{"guarantor": "Example Bank", "amount": "1000000000"}],
}


def build(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "attestation_id": ATTESTATION_ID,
        "as_of": AS_OF,
        "exchange": EXCHANGE,
        "liabilities": root_document(),
        "chains": chain_entries(),
        "reserve": copy.deepcopy(RESERVE),
        "prices": {
            "BTC": {
                "value": "15000000",
                "currency": "JPY",
                "source": "Example reference rate",
                "time": AS_OF,
            },
            "ETH": PriceQuote(Decimal("450000.25"), "JPY", "Example reference rate", AS_OF),
            "USDT": {"value": "150.25", "currency": "JPY", "source": "other feed", "time": AS_OF},
        },
        "rule_pack": RulePackRef("jp-fsa-proposal", "2026.1"),
        "report": {"coverage": {"BTC": "1.04", "ETH": "1.33"}, "covered": True},
    }
    args.update(overrides)
    return build_attestation(**args)


@pytest.fixture
def signed() -> dict[str, Any]:
    return sign_attestation(build(), KEY)


def check_of(doc: Any, **kwargs: Any) -> str:
    with pytest.raises(InvalidProof) as info:
        verify_attestation_signature(doc, **kwargs)
    return info.value.check


# ----------------------------------------------------------------------------- round trip


def test_round_trip_build_sign_verify(signed: dict[str, Any]) -> None:
    assert verify_attestation_signature(signed) == KEY.public_key().public_bytes_raw()
    assert verify_attestation_signature(signed, public_key_hex(KEY)) == bytes.fromhex(
        public_key_hex(KEY)
    )
    attestation = verify_attestation(signed, expected_public_key=bytes.fromhex(public_key_hex(KEY)))
    assert attestation.attestation_id == ATTESTATION_ID
    assert attestation.liabilities.attestation_id == ATTESTATION_ID
    assert [c.block for c in attestation.chains] == [BTC_BLOCK, ETH_BLOCK]
    assert attestation.chains[0].wallets[0].balances == {"BTC": 200_000_000}
    assert attestation.chains[0].wallets[2].ownership is None
    assert attestation.chains[0].challenge == challenge(EXCHANGE, ATTESTATION_ID, BTC_BLOCK)
    assert attestation.prices["ETH"].value == Decimal("450000.25")
    assert attestation.currency == "JPY"
    assert attestation.rule_pack == RulePackRef("jp-fsa-proposal", "2026.1")
    assert attestation.reserve == RESERVE
    assert signed["liabilities"] == root_document()
    assert signed["signature"]["algorithm"] == "ed25519"
    assert signed["signature"]["public_key"] == public_key_hex(KEY)


def test_signature_covers_tagged_canonical_body(signed: dict[str, Any]) -> None:
    body = {k: v for k, v in signed.items() if k != "signature"}
    payload = SIGNING_TAG + canonical_json(body)
    assert signing_payload(signed) == payload
    KEY.public_key().verify(bytes.fromhex(signed["signature"]["value"]), payload)
    with pytest.raises(InvalidSignature):  # the tag is part of what is signed
        KEY.public_key().verify(bytes.fromhex(signed["signature"]["value"]), canonical_json(body))


def test_signing_is_deterministic_and_replaces_an_old_signature(signed: dict[str, Any]) -> None:
    assert sign_attestation(build(), KEY) == signed
    again = sign_attestation(signed, OTHER_KEY)
    assert verify_attestation_signature(again) == OTHER_KEY.public_key().public_bytes_raw()


def test_build_does_not_alias_its_inputs() -> None:
    reserve = copy.deepcopy(RESERVE)
    doc = build(reserve=reserve)
    reserve["cash"][0]["amount"] = "1"
    assert doc["reserve"] == RESERVE


def test_build_writes_prices_as_plain_decimals() -> None:
    doc = build(prices={"BTC": {"value": "1E-7", "currency": "JPY", "source": "s", "time": AS_OF}})
    assert doc["prices"]["BTC"]["value"] == "0.0000001"


def test_report_is_optional() -> None:
    doc = sign_attestation(build(report=None), KEY)
    assert "report" not in doc
    assert verify_attestation(doc).report is None


def test_unsigned_document_is_refused() -> None:
    assert check_of(build()) == "signature"
    assert parse_attestation(build(), require_signature=False).signature is None


# ----------------------------------------------------------------------------- tampering


def _set_btc_height(doc: dict[str, Any], recompute: bool) -> None:
    chain = doc["chains"][0]
    chain["height"] += 1
    if recompute:
        block = BlockRef(Chain.BITCOIN, chain["network"], chain["height"], chain["block_hash"])
        chain["challenge"] = challenge(EXCHANGE, ATTESTATION_ID, block)
        chain["wallets"][0]["ownership"]["message"] = chain["challenge"]


def _set_btc_hash(doc: dict[str, Any], recompute: bool) -> None:
    chain = doc["chains"][0]
    chain["block_hash"] = "1e" * 32
    if recompute:
        block = BlockRef(Chain.BITCOIN, chain["network"], chain["height"], chain["block_hash"])
        chain["challenge"] = challenge(EXCHANGE, ATTESTATION_ID, block)
        chain["wallets"][0]["ownership"]["message"] = chain["challenge"]


def _set_root(doc: dict[str, Any], recompute: bool) -> None:
    root = doc["liabilities"]
    root["root"]["hash"] = hashlib.sha256(b"other root").hexdigest()
    if recompute:
        assets = [AssetSpec(a["code"], a["decimals"]) for a in root["assets"]]
        root["commitment"] = commitment(
            root["attestation_id"],
            assets,
            root["height"],
            bytes.fromhex(root["root"]["hash"]),
            [int(s) for s in root["root"]["sums"]],
        ).hex()


def _other_public_key(doc: dict[str, Any]) -> None:
    doc["signature"]["public_key"] = public_key_hex(OTHER_KEY)


def _flip_signature_byte(doc: dict[str, Any]) -> None:
    value = bytearray.fromhex(doc["signature"]["value"])
    value[17] ^= 0x01
    doc["signature"]["value"] = value.hex()


TAMPERS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    # (what, how, the check that must fail)
    (
        "balance",
        lambda d: d["chains"][0]["wallets"][0]["balances"].update(BTC="200000001"),
        "signature",
    ),
    (
        "token balance",
        lambda d: d["chains"][1]["wallets"][0]["balances"].update(USDT="1"),
        "signature",
    ),
    (
        "address (another valid one)",
        lambda d: d["chains"][0]["wallets"][0].update(address=btc_address(9)),
        "signature",
    ),
    (
        "address (not of this network)",
        lambda d: d["chains"][0]["wallets"][0].update(
            address=encode_address(DecodedAddress(AddressType.P2WPKH, bytes(20), 0), "main")
        ),
        "field chains[0].wallets[0].address",
    ),
    (
        "address (Ethereum, malformed)",
        lambda d: d["chains"][1]["wallets"][0].update(address="0x1234"),
        "field chains[1].wallets[0].address",
    ),
    (
        "address listed twice",
        lambda d: d["chains"][0]["wallets"][1].update(address=btc_address(1)),
        "field chains[0].wallets[1].address",
    ),
    ("height alone", lambda d: _set_btc_height(d, False), "field chains[0].challenge"),
    ("height and its challenge", lambda d: _set_btc_height(d, True), "signature"),
    ("block hash alone", lambda d: _set_btc_hash(d, False), "field chains[0].challenge"),
    ("block hash and its challenge", lambda d: _set_btc_hash(d, True), "signature"),
    (
        "block hash not hex",
        lambda d: d["chains"][0].update(block_hash="0F" * 32),
        "field chains[0].block_hash",
    ),
    (
        "challenge",
        lambda d: d["chains"][1].update(challenge=d["chains"][1]["challenge"] + " "),
        "field chains[1].challenge",
    ),
    (
        "ownership message",
        lambda d: d["chains"][0]["wallets"][0]["ownership"].update(message="old message"),
        "field chains[0].wallets[0].ownership.message",
    ),
    (
        "ownership signature",
        lambda d: d["chains"][0]["wallets"][0]["ownership"].update(signature="I3k+sig="),
        "signature",
    ),
    (
        "root commitment",
        lambda d: d["liabilities"].update(commitment="00" * 32),
        "field liabilities.commitment",
    ),
    ("root hash alone", lambda d: _set_root(d, False), "field liabilities.commitment"),
    ("root hash and its commitment", lambda d: _set_root(d, True), "signature"),
    (
        "root sums",
        lambda d: d["liabilities"]["root"]["sums"].__setitem__(0, "-1"),
        "field liabilities",
    ),
    (
        "root attestation id",
        lambda d: d.update(liabilities=root_document("exch-2026-10")),
        "field liabilities.attestation_id",
    ),
    (
        "price",
        lambda d: d["prices"]["BTC"].update(value="15000001"),
        "signature",
    ),
    (
        "price currency",
        lambda d: d["prices"]["ETH"].update(currency="USD"),
        "field prices.ETH.currency",
    ),
    (
        "price source",
        lambda d: d["prices"]["ETH"].update(source="a friendlier feed"),
        "signature",
    ),
    ("pack version", lambda d: d["rule_pack"].update(version="2026.2"), "signature"),
    ("pack id", lambda d: d["rule_pack"].update(id="hk-sfc"), "signature"),
    (
        "reserve amount",
        lambda d: d["reserve"]["cash"][0].update(amount="20000000000"),
        "signature",
    ),
    (
        "insurance deductible",
        lambda d: d["reserve"]["insurance"][0].update(deductible="0"),
        "signature",
    ),
    ("report", lambda d: d["report"].update(covered=False), "signature"),
    ("as_of", lambda d: d.update(as_of="2026-11-22T00:00:00Z"), "signature"),
    ("public key", _other_public_key, "signature"),
    ("a signature byte", _flip_signature_byte, "signature"),
    ("signature not hex", lambda d: d["signature"].update(value="zz"), "field signature.value"),
    (
        "signature algorithm",
        lambda d: d["signature"].update(algorithm="ecdsa"),
        "field signature.algorithm",
    ),
    ("signature removed", lambda d: d.pop("signature"), "signature"),
    ("remove a wallet", lambda d: d["chains"][0]["wallets"].pop(1), "signature"),
    (
        "remove the last wallet",
        lambda d: d["chains"][1]["wallets"].clear(),
        "field chains[1].wallets",
    ),
    ("remove a chain", lambda d: d["chains"].pop(1), "signature"),
    ("remove a price", lambda d: d["prices"].pop("USDT"), "signature"),
    ("remove a required member", lambda d: d.pop("as_of"), "field as_of"),
    (
        "remove a wallet member",
        lambda d: d["chains"][0]["wallets"][0].pop("class"),
        "field chains[0].wallets[0].class",
    ),
    ("add a top-level member", lambda d: d.update(note="trust us"), "field note"),
    (
        "add a wallet member",
        lambda d: d["chains"][0]["wallets"][0].update(verified=True),
        "field chains[0].wallets[0].verified",
    ),
    (
        "add a chain member",
        lambda d: d["chains"][0].update(tip=433),
        "field chains[0].tip",
    ),
    (
        "add a reserve member",
        lambda d: d["reserve"].update(letters_of_comfort=[]),
        "signature",
    ),
    (
        "add a wallet",
        lambda d: d["chains"][0]["wallets"].append(
            {
                "address": btc_address(7),
                "label": "extra",
                "class": "cold",
                "attribution": "customer",
                "balances": {"BTC": "100000000"},
                "ownership": None,
            }
        ),
        "signature",
    ),
    ("wallet class", lambda d: d["chains"][0]["wallets"][0].update({"class": "hot"}), "signature"),
    (
        "wallet class unknown",
        lambda d: d["chains"][0]["wallets"][0].update({"class": "frozen"}),
        "field chains[0].wallets[0].class",
    ),
    (
        "attribution",
        lambda d: d["chains"][0]["wallets"][0].update(attribution="own"),
        "signature",
    ),
    ("network", lambda d: d["chains"][0].update(network="main"), "field chains[0].challenge"),
    (
        "network unknown",
        lambda d: d["chains"][0].update(network="mainnet"),
        "field chains[0].network",
    ),
    (
        "Ethereum chain id",
        lambda d: d["chains"][1].update(network="0x7a69"),
        "field chains[1].network",
    ),
    ("format", lambda d: d.update(format="por-attestation-v2"), "format"),
    ("exchange", lambda d: d.update(exchange="Other Exchange"), "field chains[0].challenge"),
    (
        "attestation id",
        lambda d: d.update(attestation_id="exch-2026-10"),
        "field liabilities.attestation_id",
    ),
    (
        "balance as a JSON number",
        lambda d: d["chains"][0]["wallets"][0]["balances"].update(BTC=200000000),
        "field chains[0].wallets[0].balances.BTC",
    ),
    (
        "balance with a leading zero",
        lambda d: d["chains"][0]["wallets"][0]["balances"].update(BTC="0200000000"),
        "field chains[0].wallets[0].balances.BTC",
    ),
    (
        "height as a string",
        lambda d: d["chains"][0].update(height="432"),
        "field chains[0].height",
    ),
    (
        "duplicate chain",
        lambda d: d["chains"].append(copy.deepcopy(d["chains"][0])),
        "field chains[2]",
    ),
]


@pytest.mark.parametrize(
    ("how", "expected"), [(t[1], t[2]) for t in TAMPERS], ids=[t[0] for t in TAMPERS]
)
def test_tampering_is_detected(
    signed: dict[str, Any], how: Callable[[dict[str, Any]], None], expected: str
) -> None:
    doc = copy.deepcopy(signed)
    how(doc)
    assert check_of(doc) == expected


def test_pinned_key_mismatch(signed: dict[str, Any]) -> None:
    assert check_of(signed, expected_public_key=public_key_hex(OTHER_KEY)) == "public_key"
    resigned = sign_attestation(signed, OTHER_KEY)
    assert check_of(resigned, expected_public_key=public_key_hex(KEY)) == "public_key"
    with pytest.raises(InputError):
        verify_attestation_signature(signed, "not hex")


def _leaf_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaf_paths(item, (*path, key))
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield from _leaf_paths(item, (*path, n))
    else:
        yield path


def _changed(value: Any) -> Any:
    """A different JSON value of (where possible) the same type."""
    if value is None:
        return 0
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1 if value < MAX_SAFE_INT else value - 1
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, list):
        return [*value, None]
    if isinstance(value, dict):
        key = "x"
        while key in value:
            key += "x"
        return {**value, key: None}
    raise AssertionError(value)


def _replace(doc: Any, path: tuple[Any, ...], new: Any) -> None:
    target = doc
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new


def test_every_single_changed_value_is_detected(signed: dict[str, Any]) -> None:
    paths = [p for p in _leaf_paths(signed) if p[0] != "signature" or p[-1] == "value"]
    assert len(paths) > 80
    for path in paths:
        doc = copy.deepcopy(signed)
        target: Any = doc
        for step in path:
            target = target[step]
        _replace(doc, path, _changed(target))
        with pytest.raises(InvalidProof):
            verify_attestation_signature(doc)


# ----------------------------------------------------------------------------- floats, NaN


FLOAT_PLACES: list[tuple[Callable[[dict[str, Any], Any], None], str]] = [
    (
        lambda d, v: d["chains"][0]["wallets"][0]["balances"].update(BTC=v),
        "chains[0].wallets[0].balances.BTC",
    ),
    (lambda d, v: d["chains"][0].update(height=v), "chains[0].height"),
    (lambda d, v: d["reserve"]["cash"][0].update(amount=v), "reserve.cash[0].amount"),
    (
        lambda d, v: d["reserve"]["insurance"][0].update(notice_days=v),
        "reserve.insurance[0].notice_days",
    ),
    (lambda d, v: d["prices"]["BTC"].update(value=v), "prices.BTC.value"),
    (lambda d, v: d["report"]["coverage"].update(BTC=v), "report.coverage.BTC"),
    (lambda d, v: d["liabilities"].update(height=v), "liabilities.height"),
    (
        lambda d, v: d["chains"][0]["wallets"][1]["ownership"]["signatures"].append(v),
        "chains[0].wallets[1].ownership.signatures[2]",
    ),
    (lambda d, v: d.update(as_of=v), "as_of"),
]


@pytest.mark.parametrize("value", [1.5, 3.0, float("nan"), float("inf"), Decimal("1.0")])
@pytest.mark.parametrize(("put", "path"), FLOAT_PLACES, ids=[p[1] for p in FLOAT_PLACES])
def test_floats_are_rejected_anywhere_naming_the_path(
    signed: dict[str, Any], put: Callable[[dict[str, Any], Any], None], path: str, value: Any
) -> None:
    doc = copy.deepcopy(signed)
    put(doc, value)
    with pytest.raises(AttestationError) as info:
        verify_attestation_signature(doc)
    assert isinstance(info.value, InvalidProof)
    assert info.value.check == f"field {path}"
    with pytest.raises(InvalidProof) as info:
        sign_attestation(doc, KEY)
    assert info.value.check == f"field {path}"


def test_build_rejects_floats_naming_the_path() -> None:
    reserve = copy.deepcopy(RESERVE)
    reserve["guarantees"][0]["amount"] = 1e9
    with pytest.raises(InvalidProof) as info:
        build(reserve=reserve)
    assert info.value.check == "field reserve.guarantees[0].amount"
    entries = chain_entries()
    wallet = entries[0].wallets[0]
    bad = WalletEntry(
        wallet.address,
        wallet.label,
        wallet.wallet_class,
        wallet.attribution,
        {"BTC": 2.5},  # type: ignore[dict-item]
    )
    entries[0] = ChainEntry(BTC_BLOCK, (bad, *entries[0].wallets[1:]))
    with pytest.raises(InvalidProof) as info:
        build(chains=entries)
    assert info.value.check == "field chains[0].wallets[0].balances.BTC"


def test_floats_in_json_text_are_rejected_with_their_path(signed: dict[str, Any]) -> None:
    text = json.dumps(signed).replace('"notice_days": 90', '"notice_days": 90.0')
    assert "90.0" in text
    doc = loads_attestation(text)
    assert check_of(doc) == "field reserve.insurance[0].notice_days"
    text = json.dumps(signed).replace('"height": 432', '"height": 4.32e2')
    assert check_of(loads_attestation(text)) == "field chains[0].height"


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_in_json_text_is_refused(signed: dict[str, Any], constant: str) -> None:
    text = json.dumps(signed).replace('"notice_days": 90', f'"notice_days": {constant}')
    with pytest.raises(InvalidProof) as info:
        loads_attestation(text)
    assert info.value.check == "format"


def test_duplicate_keys_are_refused(signed: dict[str, Any]) -> None:
    text = json.dumps(signed)
    text = text.replace('"as_of": ', '"as_of": "2020-01-01T00:00:00Z", "as_of": ', 1)
    with pytest.raises(InvalidProof) as info:
        loads_attestation(text)
    assert info.value.check == "format"


def test_json_that_is_not_json_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "attestation.json"
    path.write_bytes(b'{"format": ')
    with pytest.raises(InputError, match="not JSON"):
        load_attestation(path)
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(InputError, match="UTF-8"):
        load_attestation(path)
    with pytest.raises(InputError, match="not found"):
        load_attestation(tmp_path / "missing.json")


# ----------------------------------------------------------------------------- canonical JSON


def test_canonical_encoding_known_bytes() -> None:
    value = {"b": 1, "a": [True, None, False, 'x\n\u0001é"\\/\u007f\u2028'], "c": {}, "": -7}
    assert (
        canonical_json(value)
        == (
            '{"":-7,"a":[true,null,false,"x\\n\\u0001é\\"\\\\/\u007f\u2028"],"b":1,"c":{}}'
        ).encode()
    )
    assert canonical_json("\b\t\n\f\r\u001f") == b'"\\b\\t\\n\\f\\r\\u001f"'
    assert canonical_json([]) == b"[]"
    assert canonical_json(MAX_SAFE_INT) == b"9007199254740991"


def test_canonical_key_order_is_rfc8785() -> None:
    # RFC 8785 §3.2.3: sorted by UTF-16 code units (U+1F600 sorts before U+FB33)
    keys = ["\u20ac", "\r", "\ufb33", "1", "\U0001f600", "\u0080", "\u00f6"]
    encoded = canonical_json(dict.fromkeys(keys, 0)).decode()
    order = re.findall(r'"(.*?)":0', encoded)
    assert order == ["\\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


@pytest.mark.parametrize(
    ("value", "check"),
    [
        ({"a": [1, {"b": 0.5}]}, "field a[1].b"),
        ({"a": MAX_SAFE_INT + 1}, "field a"),
        ({"a": -MAX_SAFE_INT - 1}, "field a"),
        ({"odd key": {"x": float("nan")}}, 'field ["odd key"].x'),
        ({1: "int key"}, "field document"),
        ({"a": "\ud800"}, "field a"),
        ({"a": b"bytes"}, "field a"),
        ({"a": {1, 2}}, "field a"),
        (1.0, "field document"),
    ],
)
def test_canonical_rejects(value: Any, check: str) -> None:
    with pytest.raises(InvalidProof) as info:
        canonical_json(value)
    assert info.value.check == check


def test_canonical_rejects_deep_nesting() -> None:
    value: Any = 0
    for _ in range(70):
        value = [value]
    with pytest.raises(InvalidProof, match="nested deeper"):
        canonical_json(value)


def _shuffled(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: _shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [_shuffled(v, rng) for v in value]
    return value


@pytest.mark.parametrize("seed", range(5))
def test_canonical_is_stable_under_key_order_and_whitespace(
    signed: dict[str, Any], seed: int
) -> None:
    rng = random.Random(seed)
    reordered = _shuffled(signed, rng)
    for text in (
        json.dumps(reordered, indent=rng.randint(1, 8)),
        json.dumps(reordered, separators=(" ,  ", " :\n ")),
        json.dumps(reordered, ensure_ascii=True),
    ):
        parsed = loads_attestation(text)
        assert canonical_json(parsed) == canonical_json(signed)
        assert verify_attestation_signature(parsed) == KEY.public_key().public_bytes_raw()


# ----------------------------------------------------------------------------- hypothesis

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_SAFE_INT, max_value=MAX_SAFE_INT)
    | st.text(st.characters(codec="utf-8"))
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(st.text(st.characters(codec="utf-8"), max_size=8), inner, max_size=5)
    ),
    max_leaves=30,
)
JSON_DOCS = st.dictionaries(
    st.text(st.characters(codec="utf-8"), max_size=8), JSON_VALUES, max_size=6
)


@functools.cache
def _docs_canon() -> Callable[[Any], str]:
    """The `canon` function of the verify-by-hand snippet in docs/attestation.md."""
    source = _snippet()
    start = source.index("def canon")
    end = source.index("\n\n", start)
    namespace: dict[str, Any] = {}
    exec(source[:end], namespace)  # imports and canon() only
    return namespace["canon"]  # type: ignore[no-any-return]


@given(JSON_VALUES)
@example({"\U0001f600": 1, "\ufb33": 2, "\u20ac": [None, True, '\x00\x7f\u2028"\\']})
@example(-MAX_SAFE_INT)
def test_canonical_round_trip(value: Any) -> None:
    encoded = canonical_json(value)
    assert canonical_json(json.loads(encoded)) == encoded
    assert json.loads(encoded) == value
    # the independent ten-line encoder of the docs gives the same bytes
    assert _docs_canon()(value).encode("utf-8") == encoded


@st.composite
def _doc_and_path(draw: st.DrawFn) -> tuple[dict[str, Any], tuple[Any, ...]]:
    doc = draw(JSON_DOCS)
    paths: list[tuple[Any, ...]] = [()]

    def walk(value: Any, path: tuple[Any, ...]) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                paths.append((*path, key))
                walk(item, (*path, key))
        elif isinstance(value, list):
            for n, item in enumerate(value):
                paths.append((*path, n))
                walk(item, (*path, n))

    walk(doc, ())
    return doc, draw(st.sampled_from(paths))


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(_doc_and_path())
def test_any_single_changed_value_breaks_the_signature(
    case: tuple[dict[str, Any], tuple[Any, ...]],
) -> None:
    doc, path = case
    signature = KEY.sign(signing_payload(doc))
    tampered = copy.deepcopy(doc)
    if path:
        target: Any = tampered
        for step in path:
            target = target[step]
        _replace(tampered, path, _changed(target))
    else:
        tampered = _changed(tampered)
    tampered.pop("signature", None)
    doc_without = {k: v for k, v in doc.items() if k != "signature"}
    if tampered == doc_without:  # changed only the (unsigned) signature member
        return
    with pytest.raises(InvalidSignature):
        KEY.public_key().verify(signature, signing_payload(tampered))


# ----------------------------------------------------------------------------- key file


def test_key_file_is_created_0600_and_reloaded(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "signing.key"
    old = os.umask(0)
    try:
        public = create_signing_key(path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----\n")
    key = load_signing_key(path)
    assert public_key_hex(key) == public
    again = load_signing_key(path)
    assert public_key_hex(again) == public_key_hex(key)
    assert public_key_hex(key.public_key()) == public_key_hex(key)
    assert re.fullmatch(r"[0-9a-f]{64}", public_key_hex(key))


def _pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _secret_fragments(key: Ed25519PrivateKey) -> list[str]:
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    body = "".join(_pem(key).decode().splitlines()[1:-1])
    return [raw.hex(), raw.hex().upper(), body, body[:20], body[-20:]]


def _all_text(error: BaseException) -> str:
    parts = []
    current: BaseException | None = error
    while current is not None:
        parts += [str(current), repr(current), json.dumps(getattr(current, "to_json", dict)())]
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o620])
def test_key_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "signing.key"
    key = Ed25519PrivateKey.generate()
    path.write_bytes(_pem(key))
    path.chmod(mode)
    with pytest.raises(InputError) as info:
        load_signing_key(path)
    text = _all_text(info.value)
    assert str(path) in str(info.value)
    assert f"{mode:04o}" in str(info.value)
    for fragment in _secret_fragments(key):
        assert fragment not in text
    assert path.read_bytes() == _pem(key)  # left as it was


def test_bad_key_file_errors_never_show_the_content(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    key = Ed25519PrivateKey.generate()
    broken = _pem(key).replace(b"MC4CAQ", b"MC4XXX")
    cases = [
        broken,
        _pem(key)[:-40],
        key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        .hex()
        .encode(),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        ),
    ]
    for data in cases:
        path.unlink(missing_ok=True)
        path.write_bytes(data)
        path.chmod(0o600)
        with pytest.raises(InputError, match="not an unencrypted PEM PKCS#8") as info:
            load_signing_key(path)
        text = _all_text(info.value)
        for fragment in _secret_fragments(key):
            assert fragment not in text


def test_key_of_another_algorithm_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    other = ec.generate_private_key(ec.SECP256K1())
    path.write_bytes(
        other.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    with pytest.raises(InputError, match="not an Ed25519 key"):
        load_signing_key(path)


def test_key_path_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "signing.key"
    directory.mkdir(mode=0o700)
    with pytest.raises(InputError, match="not a regular file"):
        load_signing_key(directory)


# ----------------------------------------------------------------------------- files


def test_write_attestation(tmp_path: Path, signed: dict[str, Any]) -> None:
    out = tmp_path / "out"
    attestation_path, root_path = write_attestation(out, signed)
    assert attestation_path == out / "attestation.json"
    assert root_path == out / "root.json"
    for path in (attestation_path, root_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert sorted(p.name for p in out.iterdir()) == ["attestation.json", "root.json"]
    loaded = load_attestation(attestation_path)
    assert loaded == signed
    assert verify_attestation_signature(loaded) == KEY.public_key().public_bytes_raw()
    assert json.loads(root_path.read_text()) == signed["liabilities"]
    assert root_path.read_text() == json.dumps(root_document(), indent=2) + "\n"
    # replacing an existing publication works (atomic rename over it)
    resigned = sign_attestation(signed, OTHER_KEY)
    write_attestation(out, resigned)
    assert verify_attestation_signature(load_attestation(attestation_path)) == (
        OTHER_KEY.public_key().public_bytes_raw()
    )
    assert sorted(p.name for p in out.iterdir()) == ["attestation.json", "root.json"]


def test_write_refuses_a_document_that_does_not_verify(
    tmp_path: Path, signed: dict[str, Any]
) -> None:
    doc = copy.deepcopy(signed)
    doc["prices"]["BTC"]["value"] = "1"
    with pytest.raises(InvalidProof):
        write_attestation(tmp_path / "out", doc)
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------------------------- the docs


def _snippet() -> str:
    text = DOCS.read_text(encoding="utf-8")
    start = text.index("<!-- verify-by-hand -->")
    block = re.search(r"```python\n(.*?)```", text[start:], re.S)
    assert block is not None
    return block.group(1)


def test_docs_verify_by_hand_snippet(
    tmp_path: Path, signed: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    write_attestation(tmp_path, signed)
    monkeypatch.chdir(tmp_path)
    exec(_snippet(), {})
    assert public_key_hex(KEY) in capsys.readouterr().out
    doc = copy.deepcopy(signed)
    doc["chains"][0]["wallets"][0]["balances"]["BTC"] = "1"
    (tmp_path / "attestation.json").write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(InvalidSignature):
        exec(_snippet(), {})


def test_docs_list_every_check_name() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for name in ("`format`", "`signature`", "`public_key`", "`field <path>`"):
        assert name in text
