"""Signatures made the way each signing tool makes them verify over an epoch challenge.

docs/signing.md lists the tools; here each tool's convention is reproduced with libraries
that are independent of chains/btc_bip137.py's own signer: bitcoinlib's
`Key.sign_message` and coincurve for BIP-137 (Core/Electrum/Ledger/old Coldcard:
compressed-key header 31-34 for every type; Trezor/Sparrow "BIP137"/Coldcard >= 5.1: the
header of the address type), embit for BIP-322 simple (P2WPKH ECDSA, P2TR Schnorr, as
Sparrow signs), eth_account for EIP-191 (= web3.py, ethers, cast: one deterministic
signature) and EIP-2098. Each is then tampered with: one byte of the message, the
signature or the header changed must be refused. A signature over the challenge plus a
trailing newline or with CRLF line ends is refused with a reason that says so.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import coincurve
import pytest
from embit import ec, script
from embit.networks import NETWORKS
from embit.script import Script, Witness
from embit.transaction import Transaction, TransactionInput, TransactionOutput
from eth_account import Account
from eth_account.messages import encode_defunct

from chains.base import BlockRef, Chain, Ownership
from chains.btc_ownership import message_variants, verify_bitcoin_ownership
from chains.btc_proof_checks import bip137_message_hash, bip322_message_hash
from chains.challenge import epoch_challenge
from chains.eth_ownership import expand_compact, verify_eip191

NET = "regtest"
BLOCK = BlockRef(Chain.BITCOIN, NET, 120, "0f" * 32)
MESSAGE = epoch_challenge("Example Exchange", "2026-q4", BLOCK, "2027-03-31T00:00:00Z")
ETH_MESSAGE = epoch_challenge(
    "Example Exchange", "2026-q4", BlockRef(Chain.ETHEREUM, "31337", 55, "ab" * 32)
)
SECRET = hashlib.sha256(b"por signing tools").digest()
HEADER_BASE = {"p2pkh": 31, "p2sh-p2wpkh": 35, "p2wpkh": 39}


def address(kind: str, secret: bytes = SECRET) -> str:
    key = ec.PrivateKey(secret).get_public_key()
    net = NETWORKS[NET]
    if kind == "p2pkh":
        return script.p2pkh(key).address(net)
    if kind == "p2sh-p2wpkh":
        return script.p2sh(script.p2wpkh(key)).address(net)
    if kind == "p2wpkh":
        return script.p2wpkh(key).address(net)
    assert kind == "p2tr"
    return script.p2tr(key).address(net)


def bip137(message: str, header_base: int, secret: bytes = SECRET) -> str:
    signature = coincurve.PrivateKey(secret).sign_recoverable(
        bip137_message_hash(message), hasher=None
    )
    return base64.b64encode(bytes([header_base + signature[64]]) + signature[:64]).decode()


def check(proof: dict[str, object], addr: str, message: str = MESSAGE) -> tuple[str, str]:
    result = verify_bitcoin_ownership(proof, addr, NET, message)
    return result.status.value, result.reason


# ----------------------------------------------------------------------------- BIP-137 tools


def test_bitcoinlib_signs_like_bitcoin_core(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bitcoinlib's Key.sign_message (an independent implementation of Core's format; the
    `test` extra, docs/dependencies.md)."""
    # bitcoinlib writes its config, logs and a database on import: here, not in ~/.bitcoinlib
    monkeypatch.setenv("BCL_DATA_DIR", str(tmp_path / "bitcoinlib"))
    from bitcoinlib.keys import Key

    signature = Key(SECRET.hex(), network="testnet").sign_message(MESSAGE).as_base64()
    assert base64.b64decode(signature)[0] in range(31, 35)
    assert check({"scheme": "bip137", "signature": signature}, address("p2pkh"))[0] == "proven"


@pytest.mark.parametrize("kind", ["p2pkh", "p2sh-p2wpkh", "p2wpkh"])
@pytest.mark.parametrize(
    "tool", ["core/electrum/ledger (31-34)", "trezor/sparrow-bip137/coldcard>=5.1"]
)
def test_bip137_header_conventions_prove_every_single_key_type(kind: str, tool: str) -> None:
    base = 31 if tool.startswith("core") else HEADER_BASE[kind]
    signature = bip137(MESSAGE, base)
    assert check({"scheme": "bip137", "signature": signature}, address(kind))[0] == "proven"


@pytest.mark.parametrize("kind", ["p2pkh", "p2sh-p2wpkh", "p2wpkh"])
def test_bip137_header_of_another_type_is_refused(kind: str) -> None:
    other = {"p2pkh": 39, "p2sh-p2wpkh": 39, "p2wpkh": 35}[kind]
    status, reason = check({"scheme": "bip137", "signature": bip137(MESSAGE, other)}, address(kind))
    assert status == "unproven" and reason.startswith("header: ")


@pytest.mark.parametrize("kind", ["p2pkh", "p2sh-p2wpkh", "p2wpkh"])
@pytest.mark.parametrize("where", ["message", "r", "s", "header"])
def test_bip137_one_changed_byte_is_refused(kind: str, where: str) -> None:
    signature = bip137(MESSAGE, HEADER_BASE[kind])
    raw = bytearray(base64.b64decode(signature))
    message = MESSAGE
    if where == "message":
        message = MESSAGE.replace("2026-q4", "2026-q5")
    elif where == "r":
        raw[5] ^= 1
    elif where == "s":
        raw[40] ^= 1
    else:
        raw[0] ^= 1  # the other recovery id of the same type: another key
    proof = {"scheme": "bip137", "signature": base64.b64encode(bytes(raw)).decode()}
    assert check(proof, address(kind), message)[0] == "unproven"


# ----------------------------------------------------------------------------- BIP-322 (embit)


def _to_spend_and_sign(message: str, script_pubkey: Script) -> tuple[Transaction, Transaction]:
    to_spend = Transaction(
        version=0,
        vin=[
            TransactionInput(
                b"\x00" * 32,
                0xFFFFFFFF,
                script_sig=Script(b"\x00\x20" + bip322_message_hash(message)),
                sequence=0,
            )
        ],
        vout=[TransactionOutput(0, script_pubkey)],
        locktime=0,
    )
    to_sign = Transaction(
        version=0,
        vin=[TransactionInput(to_spend.txid(), 0, sequence=0)],
        vout=[TransactionOutput(0, Script(b"\x6a"))],
        locktime=0,
    )
    return to_spend, to_sign


def bip322_p2wpkh(message: str, secret: bytes = SECRET) -> str:
    key = ec.PrivateKey(secret)
    spk = script.p2wpkh(key.get_public_key())
    _, to_sign = _to_spend_and_sign(message, spk)
    digest = to_sign.sighash_segwit(0, script.p2pkh(key.get_public_key()), 0)
    sig = key.sign(digest).serialize() + b"\x01"
    return base64.b64encode(Witness([sig, key.get_public_key().sec()]).serialize()).decode()


def bip322_p2tr(message: str, secret: bytes = SECRET, sighash_all: bool = False) -> str:
    """Sparrow's BIP-322 simple for a taproot wallet: a key-path Schnorr witness."""
    key = ec.PrivateKey(secret)
    spk = script.p2tr(key.get_public_key())
    _, to_sign = _to_spend_and_sign(message, spk)
    to_sign.vin[0].script_pubkey = spk  # embit's taproot sighash reads the spent outputs
    to_sign.vin[0].value = 0
    hash_type = 0x01 if sighash_all else 0x00
    digest = to_sign.sighash_taproot(0, script_pubkeys=[spk], values=[0], sighash=hash_type)
    tweaked = key.taproot_tweak(b"")
    sig = tweaked.schnorr_sign(digest).serialize() + (b"\x01" if sighash_all else b"")
    return base64.b64encode(Witness([sig]).serialize()).decode()


def test_bip322_p2wpkh_made_with_embit_proves() -> None:
    proof = {"scheme": "bip322-simple", "signature": bip322_p2wpkh(MESSAGE)}
    assert check(proof, address("p2wpkh"))[0] == "proven"


@pytest.mark.parametrize("sighash_all", [False, True])
def test_bip322_p2tr_made_with_embit_proves(sighash_all: bool) -> None:
    proof = {"scheme": "bip322-simple", "signature": bip322_p2tr(MESSAGE, sighash_all=sighash_all)}
    assert check(proof, address("p2tr")) == (
        "proven",
        f"the key-path witness [Schnorr signature] spends to_spend of {address('p2tr')} (P2TR)",
    )


@pytest.mark.parametrize("index", [2, 20, 40, 64])
def test_bip322_p2tr_one_changed_byte_is_refused(index: int) -> None:
    raw = bytearray(base64.b64decode(bip322_p2tr(MESSAGE)))
    raw[index] ^= 0x10
    proof = {"scheme": "bip322-simple", "signature": base64.b64encode(bytes(raw)).decode()}
    status, reason = check(proof, address("p2tr"))
    assert status == "unproven" and reason.startswith(("Schnorr: ", "witness: ")), reason


def test_bip322_p2tr_refusals() -> None:
    good = bip322_p2tr(MESSAGE)
    other_key = address("p2tr", hashlib.sha256(b"another").digest())
    assert check({"scheme": "bip322-simple", "signature": good}, other_key)[1].startswith(
        "Schnorr: "
    )
    changed = MESSAGE.replace("120", "121")
    assert check({"scheme": "bip322-simple", "signature": good}, address("p2tr"), changed)[
        1
    ].startswith("Schnorr: ")
    raw = base64.b64decode(bip322_p2tr(MESSAGE, sighash_all=True))
    none = raw[:-1] + b"\x02"  # SIGHASH_NONE: does not commit to the outputs
    proof = {"scheme": "bip322-simple", "signature": base64.b64encode(none).decode()}
    assert check(proof, address("p2tr"))[1].startswith("sighash type: ")
    two = base64.b64encode(Witness([b"\x01" * 64, b"\x02"]).serialize()).decode()
    assert check({"scheme": "bip322-simple", "signature": two}, address("p2tr"))[1].startswith(
        "witness: "
    )


# ----------------------------------------------------------------------------- near misses


@pytest.mark.parametrize(("description", "signed"), message_variants(MESSAGE))
def test_a_newline_or_crlf_near_miss_is_refused_and_named(description: str, signed: str) -> None:
    for proof, addr in (
        ({"scheme": "bip137", "signature": bip137(signed, 31)}, address("p2wpkh")),
        ({"scheme": "bip322-simple", "signature": bip322_p2tr(signed)}, address("p2tr")),
    ):
        status, reason = check(proof, addr)
        assert status == "unproven"
        assert f"with {description} added" in reason, reason
    account = Account.from_key(SECRET)
    eth_variant = dict(message_variants(ETH_MESSAGE))[description]
    signature = account.sign_message(encode_defunct(text=eth_variant)).signature
    result = verify_eip191(account.address, ETH_MESSAGE, signature.hex())
    assert result.status is Ownership.UNPROVEN
    assert f"with {description} added" in result.reason


def test_an_unrelated_failure_names_no_near_miss() -> None:
    other = bip137(MESSAGE.replace("q4", "q3"), 31)
    assert "added" not in check({"scheme": "bip137", "signature": other}, address("p2wpkh"))[1]


# ----------------------------------------------------------------------------- EIP-191


@pytest.mark.parametrize("v_form", ["27/28", "0/1", "eip-2098"])
def test_eip191_signature_forms_prove(v_form: str) -> None:
    """web3.py's Account.sign_message(encode_defunct(text=...)), as ethers' signMessage and
    cast wallet sign make it; hardware wallets may return v as 0/1; EIP-2098 packs v into s."""
    account = Account.from_key(SECRET)
    raw = bytes(account.sign_message(encode_defunct(text=ETH_MESSAGE)).signature)
    if v_form == "0/1":
        raw = raw[:64] + bytes([raw[64] - 27])
    elif v_form == "eip-2098":
        s = int.from_bytes(raw[32:64], "big") | ((raw[64] - 27) << 255)
        raw = raw[:32] + s.to_bytes(32, "big")
        assert expand_compact(raw) == bytes(
            account.sign_message(encode_defunct(text=ETH_MESSAGE)).signature
        )
    result = verify_eip191(account.address, ETH_MESSAGE, "0x" + raw.hex())
    assert result.status is Ownership.PROVEN, result.reason


@pytest.mark.parametrize("index", [0, 31, 32, 63, 64])
def test_eip191_one_changed_byte_is_refused(index: int) -> None:
    account = Account.from_key(SECRET)
    raw = bytearray(account.sign_message(encode_defunct(text=ETH_MESSAGE)).signature)
    raw[index] ^= 0x01 if index != 64 else 0x03
    result = verify_eip191(account.address, ETH_MESSAGE, bytes(raw).hex())
    assert result.status is Ownership.UNPROVEN


def test_eip191_over_another_message_is_refused() -> None:
    account = Account.from_key(SECRET)
    signature = account.sign_message(encode_defunct(text=ETH_MESSAGE + " ")).signature.hex()
    assert verify_eip191(account.address, ETH_MESSAGE, signature).status is Ownership.UNPROVEN
