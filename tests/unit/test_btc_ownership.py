"""chains.btc_ownership: Bitcoin ownership proofs, verified offline.

Three kinds of evidence:

* Published vectors (fixtures/ownership/*.json): the BIP-322 test vectors of bitcoin/bips,
  and signatures made by Bitcoin Core, Electrum and Sparrow that Core or Knots verify.
* Keys generated here (deterministically) and signed here with coincurve, for every address
  type and network, each followed by tamper tests: every tampered proof must be UNPROVEN with
  a reason that starts with the `Check` that failed.
* Hypothesis: random keys and messages sign and verify; any single-byte change to a
  signature fails (with the one exception BIP-137 allows, an equivalent header byte).

The test side computes message hashes, addresses and BIP-322 sighashes with its own code or
with embit, not with the module under test, so the two are checked against each other.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import coincurve
import pytest
from embit import bech32 as embit_bech32
from embit import ec, script
from embit import hashes as embit_hashes
from embit.networks import NETWORKS
from embit.script import Script, Witness
from embit.transaction import Transaction, TransactionInput, TransactionOutput
from hypothesis import example, given, settings
from hypothesis import strategies as st

from chains.base import BlockRef, Chain, Ownership, OwnershipCheck
from chains.btc_bip322_tx import bip322_sighash, bip322_txids
from chains.btc_multisig import check_p2wsh_multisig, multisig_witness_script, parse_multisig
from chains.btc_ownership import verify_bitcoin_ownership
from chains.btc_proof_checks import (
    Check,
    bip137_message_hash,
    bip322_message_hash,
    decode_address,
)
from chains.challenge import challenge
from verifier.base.errors import InputError, InvalidProof

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ownership"
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
NETWORKS_UNDER_TEST = ("main", "test", "signet", "regtest")

HASH_A = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"
HASH_B = "5b8bd14f0c4f1b1d7ad2b9d8f7b2f4fcde3a8ee0a2fa8a0a6e6d3f70e1c2a3b4"


# ----------------------------------------------------------------------------- helpers


def block(network: str, height: int = 432, block_hash: str = HASH_A) -> BlockRef:
    return BlockRef(Chain.BITCOIN, network, height, block_hash)


def the_challenge(network: str, exchange: str = "Example Exchange", **kw: Any) -> str:
    return challenge(exchange, "exch-2026-11", block(network, **kw))


def private_key(n: int) -> coincurve.PrivateKey:
    """Deterministic test key number `n`."""
    return coincurve.PrivateKey(hashlib.sha256(f"por-test-key-{n}".encode()).digest())


def magic_hash(message: str) -> bytes:
    """Bitcoin Core's MessageHash, written out here independently of the module."""
    data = message.encode()
    assert len(data) < 0xFD
    prefixed = b"\x18Bitcoin Signed Message:\n" + bytes([len(data)]) + data
    return hashlib.sha256(hashlib.sha256(prefixed).digest()).digest()


HEADER_BASE = {"p2pkh-uncompressed": 27, "p2pkh": 31, "p2sh-p2wpkh": 35, "p2wpkh": 39}
"""BIP-137 header base per address kind (strict BIP-137 headers)."""


def sign_message(priv: coincurve.PrivateKey, message: str, header_base: int) -> str:
    """signmessage: base64(header || r || s), header = base + recovery id."""
    recoverable = priv.sign_recoverable(magic_hash(message), hasher=None)
    return base64.b64encode(bytes([header_base + recoverable[64]]) + recoverable[:64]).decode()


def embit_key(priv: coincurve.PrivateKey, compressed: bool = True) -> ec.PublicKey:
    return ec.PublicKey.parse(priv.public_key.format(compressed=compressed))


def address_of(priv: coincurve.PrivateKey, kind: str, network: str) -> str:
    """The `kind` address of `priv` on `network`, derived with embit."""
    net = NETWORKS[network]
    if kind == "p2pkh-uncompressed":
        return str(script.p2pkh(embit_key(priv, compressed=False)).address(net))
    if kind == "p2pkh":
        return str(script.p2pkh(embit_key(priv)).address(net))
    if kind == "p2sh-p2wpkh":
        return str(script.p2sh(script.p2wpkh(embit_key(priv))).address(net))
    assert kind == "p2wpkh"
    return str(script.p2wpkh(embit_key(priv)).address(net))


def multisig_address(witness_script_hex: str, network: str, wrapped: bool = False) -> str:
    net = NETWORKS[network]
    p2wsh = script.p2wsh(Script(bytes.fromhex(witness_script_hex)))
    return str((script.p2sh(p2wsh) if wrapped else p2wsh).address(net))


def flip(signature_b64: str, index: int, mask: int = 0x01) -> str:
    raw = bytearray(base64.b64decode(signature_b64))
    raw[index] ^= mask
    return base64.b64encode(bytes(raw)).decode()


def change_one_character(address: str) -> str:
    """The address with one data character replaced (keeps the alphabet and the case)."""
    i = len(address) // 2
    alphabet = (
        "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
        if address[:2].lower() in {"bc", "tb"}
        else ("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz")
    )
    replacement = next(c for c in alphabet if c != address[i])
    return address[:i] + replacement + address[i + 1 :]


def bip137(signature: str, **extra: Any) -> dict[str, Any]:
    return {"scheme": "bip137", "signature": signature, **extra}


def assert_unproven(result: OwnershipCheck, check: Check, *words: str) -> None:
    assert result.status is Ownership.UNPROVEN, result
    assert result.reason.startswith(f"{check}: "), result.reason
    for word in words:
        assert word in result.reason, result.reason


def assert_proven(result: OwnershipCheck) -> None:
    assert result.status is Ownership.PROVEN, result.reason


# BIP-322, computed with embit (an implementation independent of the module under test)


def embit_bip322(message: str, script_pubkey: bytes, script_code: bytes) -> tuple[Any, Any, bytes]:
    """(to_spend, to_sign, sighash) built with embit's Transaction and BIP-143 code."""
    tag = hashlib.sha256(b"BIP0322-signed-message").digest()
    message_hash = hashlib.sha256(tag + tag + message.encode()).digest()
    to_spend = Transaction(
        version=0,
        vin=[TransactionInput(b"\x00" * 32, 0xFFFFFFFF, Script(b"\x00\x20" + message_hash), 0)],
        vout=[TransactionOutput(0, Script(script_pubkey))],
        locktime=0,
    )
    to_sign = Transaction(
        version=0,
        vin=[TransactionInput(to_spend.txid(), 0, sequence=0)],
        vout=[TransactionOutput(0, Script(b"\x6a"))],
        locktime=0,
    )
    return to_spend, to_sign, bytes(to_sign.sighash_segwit(0, Script(script_code), 0))


def witness_b64(items: list[bytes]) -> str:
    return base64.b64encode(Witness(items).serialize()).decode()


def p2wpkh_program(priv: coincurve.PrivateKey) -> bytes:
    return bytes(embit_hashes.hash160(priv.public_key.format()))


def sign_bip322_p2wpkh(
    priv: coincurve.PrivateKey, message: str, *, witness_key: bytes | None = None
) -> list[bytes]:
    """The BIP-322 simple witness [DER || 0x01, pubkey] for `priv`'s P2WPKH address."""
    program = p2wpkh_program(priv)
    _, _, digest = embit_bip322(
        message, b"\x00\x14" + program, b"\x76\xa9\x14" + program + b"\x88\xac"
    )
    der = priv.sign(digest, hasher=None)
    return [der + b"\x01", witness_key or priv.public_key.format()]


def sign_bip322_multisig(
    privs: list[coincurve.PrivateKey], message: str, witness_script: bytes
) -> list[bytes]:
    """[empty, signatures in script key order, witness script]."""
    spk = b"\x00\x20" + hashlib.sha256(witness_script).digest()
    _, _, digest = embit_bip322(message, spk, witness_script)
    _, keys = parse_multisig(witness_script)
    # script key order; a key not in the script (a tamper test) goes last
    rank = {key: i for i, key in enumerate(keys)}
    order = sorted(privs, key=lambda p: rank.get(p.public_key.format(), len(keys)))
    return [b"", *(p.sign(digest, hasher=None) + b"\x01" for p in order), witness_script]


def der_encode(r: int, s: int) -> bytes:
    def integer(v: int) -> bytes:
        raw = v.to_bytes(32, "big").lstrip(b"\x00") or b"\x00"
        if raw[0] & 0x80:
            raw = b"\x00" + raw
        return b"\x02" + bytes([len(raw)]) + raw

    body = integer(r) + integer(s)
    return b"\x30" + bytes([len(body)]) + body


def der_decode(der: bytes) -> tuple[int, int]:
    len_r = der[3]
    r = int.from_bytes(der[4 : 4 + len_r], "big")
    s = int.from_bytes(der[6 + len_r :], "big")
    return r, s


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


BIP322 = load("bip322.json")
BIP137 = load("bip137.json")


# ----------------------------------------------------------------------------- vectors


@pytest.mark.parametrize("vector", BIP322["message_hashes"], ids=lambda v: repr(v["message"]))
def test_bip322_message_hash_vectors(vector: dict[str, str]) -> None:
    assert bip322_message_hash(vector["message"]).hex() == vector["message_hash"]


@pytest.mark.parametrize("vector", BIP322["tx_hashes"], ids=lambda v: repr(v["message"]))
def test_bip322_transaction_hash_vectors(vector: dict[str, str]) -> None:
    spk = decode_address(vector["address"], vector["network"]).script_pubkey()
    to_spend, to_sign = bip322_txids(vector["message"], spk)
    assert (to_spend, to_sign) == (vector["to_spend_tx_hash"], vector["to_sign_tx_hash"])
    # and embit, building the same transactions on its own, agrees
    embit_spend, embit_sign, _ = embit_bip322(vector["message"], spk, b"")
    assert (embit_spend.txid().hex(), embit_sign.txid().hex()) == (to_spend, to_sign)


@pytest.mark.parametrize("vector", BIP322["valid"], ids=lambda v: v["description"])
def test_bip322_valid_vectors(vector: dict[str, str]) -> None:
    proof = {"scheme": "bip322-simple", "signature": vector["signature"]}
    assert_proven(
        verify_bitcoin_ownership(proof, vector["address"], vector["network"], vector["message"])
    )


@pytest.mark.parametrize("vector", BIP322["invalid"], ids=lambda v: v["description"])
def test_bip322_invalid_vectors(vector: dict[str, str]) -> None:
    proof = {"scheme": "bip322-simple", "signature": vector["signature"]}
    result = verify_bitcoin_ownership(
        proof, vector["address"], vector["network"], vector["message"]
    )
    assert_unproven(result, Check(vector["check"]))


@pytest.mark.parametrize("vector", BIP137["valid"], ids=lambda v: v["description"])
def test_bip137_real_world_signatures(vector: dict[str, str]) -> None:
    result = verify_bitcoin_ownership(
        bip137(vector["signature"]), vector["address"], vector["network"], vector["message"]
    )
    assert_proven(result)


@pytest.mark.parametrize("vector", BIP137["invalid"], ids=lambda v: v["description"])
def test_bip137_real_world_rejections(vector: dict[str, str]) -> None:
    result = verify_bitcoin_ownership(
        bip137(vector["signature"]), vector["address"], vector["network"], vector["message"]
    )
    assert_unproven(result, Check(vector["check"]))


def test_signing_helper_reproduces_bitcoin_core_signmessage() -> None:
    """The test's signer is Core's: same RFC 6979 nonce, same header, same bytes."""
    key = BIP137["keys"]["15CRxFdyRpGZLW9w8HnHvVduizdL5jKNbs"]
    priv = coincurve.PrivateKey(bytes.fromhex(key["secret_hex"]))
    core = BIP137["valid"][0]
    assert sign_message(priv, "Trust no one", HEADER_BASE["p2pkh"]) == core["signature"]
    assert address_of(priv, "p2pkh", "main") == core["address"]
    assert bip137_message_hash("Trust no one") == magic_hash("Trust no one")


def test_core_signature_proves_every_key_address_with_every_header_style() -> None:
    """Knots' functional test: Core's signature (header 32) verifies for the key's P2PKH,
    P2SH-P2WPKH and P2WPKH addresses, and so do the BIP-137 headers +4 (36) and +8 (40)."""
    wif = BIP137["keys"]["mpLQjfK79b7CCV4VMJWEWAj5Mpx8Up5zxB"]["wif"]
    priv = coincurve.PrivateKey(ec.PrivateKey.from_wif(wif).secret)
    vector = BIP137["valid"][2]
    message, signature = vector["message"], vector["signature"]
    assert address_of(priv, "p2pkh", "regtest") == vector["address"]
    nested, native = (
        address_of(priv, "p2sh-p2wpkh", "regtest"),
        address_of(priv, "p2wpkh", "regtest"),
    )
    for address in (vector["address"], nested, native):
        assert_proven(verify_bitcoin_ownership(bip137(signature), address, "regtest", message))
    assert_proven(
        verify_bitcoin_ownership(bip137(flip(signature, 0, 32 ^ 36)), nested, "regtest", message)
    )
    assert_proven(
        verify_bitcoin_ownership(bip137(flip(signature, 0, 32 ^ 40)), native, "regtest", message)
    )
    # the strict headers name one type each
    result = verify_bitcoin_ownership(
        bip137(flip(signature, 0, 32 ^ 36)), native, "regtest", message
    )
    assert_unproven(result, Check.HEADER, "36", "P2SH-P2WPKH", "P2WPKH address")


@pytest.mark.parametrize(
    "vector", [v for v in BIP322["valid"] if "witness_script" in v], ids=lambda v: v["description"]
)
def test_published_witness_scripts_hash_to_their_addresses(vector: dict[str, Any]) -> None:
    m, keys = parse_multisig(bytes.fromhex(vector["witness_script"]))
    assert m == len(keys) == len(vector["private_keys"])
    assert multisig_address(vector["witness_script"], "main") == vector["address"]
    # with no signatures the script-hash check passes and the threshold check fails
    with pytest.raises(InvalidProof) as raised:
        check_p2wsh_multisig(vector["address"], vector["witness_script"], [], "main", "m")
    assert raised.value.check == Check.THRESHOLD


# ----------------------------------------------------------------------------- BIP-137


KINDS = tuple(HEADER_BASE)


@pytest.mark.parametrize("network", NETWORKS_UNDER_TEST)
@pytest.mark.parametrize("kind", KINDS)
def test_bip137_generated_keys_prove_every_type_on_every_network(kind: str, network: str) -> None:
    priv = private_key(KINDS.index(kind))
    address = address_of(priv, kind, network)
    text = the_challenge(network)
    result = verify_bitcoin_ownership(
        bip137(sign_message(priv, text, HEADER_BASE[kind])), address, network, text
    )
    assert_proven(result)
    assert result.scheme == "bip137"
    assert address in result.reason


@pytest.mark.parametrize("network", NETWORKS_UNDER_TEST)
@pytest.mark.parametrize("kind", ["p2sh-p2wpkh", "p2wpkh"])
def test_bip137_electrum_style_compressed_header_proves_segwit(kind: str, network: str) -> None:
    priv = private_key(10)
    address = address_of(priv, kind, network)
    text = the_challenge(network)
    assert_proven(
        verify_bitcoin_ownership(bip137(sign_message(priv, text, 31)), address, network, text)
    )


@pytest.mark.parametrize("kind", KINDS)
class TestBip137Tampering:
    network = "main"

    def setup_method(self) -> None:
        self.text = the_challenge(self.network)

    def signed(self, kind: str, message: str | None = None) -> tuple[str, str]:
        priv = private_key(20 + KINDS.index(kind))
        address = address_of(priv, kind, self.network)
        return address, sign_message(priv, message or self.text, HEADER_BASE[kind])

    def verify(self, signature: str, address: str, **extra: Any) -> OwnershipCheck:
        return verify_bitcoin_ownership(
            bip137(signature, **extra), address, self.network, self.text
        )

    @pytest.mark.parametrize("index", [1, 17, 32, 33, 50, 64])
    def test_flipped_signature_byte(self, kind: str, index: int) -> None:
        address, signature = self.signed(kind)
        result = self.verify(flip(signature, index), address)
        assert result.status is Ownership.UNPROVEN
        assert result.reason.split(":")[0] in {Check.RECOVERED_KEY, Check.RECOVERY}, result.reason

    def test_one_character_of_the_address_changed(self, kind: str) -> None:
        address, signature = self.signed(kind)
        assert_unproven(
            self.verify(signature, change_one_character(address)), Check.ADDRESS, "not a valid"
        )

    def test_another_blocks_challenge(self, kind: str) -> None:
        address, _ = self.signed(kind)
        _, stale = self.signed(kind, the_challenge(self.network, height=431, block_hash=HASH_B))
        assert_unproven(self.verify(stale, address), Check.RECOVERED_KEY, "another message")

    def test_another_exchanges_challenge(self, kind: str) -> None:
        address, _ = self.signed(kind)
        _, theirs = self.signed(kind, the_challenge(self.network, exchange="Other Exchange"))
        assert_unproven(self.verify(theirs, address), Check.RECOVERED_KEY)

    def test_proof_carrying_another_message(self, kind: str) -> None:
        other = the_challenge(self.network, height=431, block_hash=HASH_B)
        address, signature = self.signed(kind, other)
        result = self.verify(signature, address, message=other)
        assert_unproven(result, Check.MESSAGE, "signed message is not this attestation's challenge")
        # carrying the right text is fine
        address, signature = self.signed(kind)
        assert_proven(self.verify(signature, address, message=self.text))

    def test_wrong_header_type(self, kind: str) -> None:
        address, signature = self.signed(kind)
        header = base64.b64decode(signature)[0]
        recovery = (header - 27) & 3
        # a header range that does not name this address's type
        wrong = {"p2pkh-uncompressed": 39, "p2pkh": 35, "p2sh-p2wpkh": 27, "p2wpkh": 35}[kind]
        result = self.verify(flip(signature, 0, header ^ (wrong + recovery)), address)
        assert_unproven(result, Check.HEADER, f"header byte {wrong + recovery}", "does not match")

    @pytest.mark.parametrize("header", [0, 26, 43, 255])
    def test_header_out_of_range(self, kind: str, header: int) -> None:
        address, signature = self.signed(kind)
        raw = base64.b64decode(signature)
        result = self.verify(base64.b64encode(bytes([header]) + raw[1:]).decode(), address)
        assert_unproven(result, Check.HEADER, "outside 27-42")

    @pytest.mark.parametrize("cut", [1, -1])
    def test_wrong_length(self, kind: str, cut: int) -> None:
        address, signature = self.signed(kind)
        raw = base64.b64decode(signature)
        raw = raw[:-1] if cut < 0 else raw + b"\x00"
        result = self.verify(base64.b64encode(raw).decode(), address)
        assert_unproven(result, Check.ENCODING, "not 65")

    @pytest.mark.parametrize("garbage", ["", "   ", "H!!!", "SGVsbG8", "not base64 at all"])
    def test_malformed_base64(self, kind: str, garbage: str) -> None:
        address, _ = self.signed(kind)
        expected = Check.NO_SIGNATURE if garbage == "" else Check.ENCODING
        assert_unproven(self.verify(garbage, address), expected)

    def test_signature_by_another_key(self, kind: str) -> None:
        address, _ = self.signed(kind)
        other = sign_message(private_key(99), self.text, HEADER_BASE[kind])
        assert_unproven(self.verify(other, address), Check.RECOVERED_KEY, address)

    def test_high_s_is_accepted_as_bitcoin_core_does(self, kind: str) -> None:
        address, signature = self.signed(kind)
        raw = base64.b64decode(signature)
        s = int.from_bytes(raw[33:65], "big")
        # (r, n - s) with the recovery id's parity flipped recovers the same key
        recovery = (raw[0] - 27) & 3
        header = raw[0] - recovery + (recovery ^ 1)
        high = bytes([header]) + raw[1:33] + (N - s).to_bytes(32, "big")
        assert int.from_bytes(high[33:], "big") > N // 2
        assert_proven(self.verify(base64.b64encode(high).decode(), address))

    def test_address_of_another_network(self, kind: str) -> None:
        priv = private_key(20 + KINDS.index(kind))
        regtest_address = address_of(priv, kind, "regtest")
        _, signature = self.signed(kind)
        assert_unproven(self.verify(signature, regtest_address), Check.ADDRESS)


@pytest.mark.parametrize("recovery_id", [2, 3])
def test_bip137_recovery_ids_2_and_3_are_honoured(recovery_id: int) -> None:
    """Headers 29-30 / 33-34 mean R.x = r + n (Core's RecoverCompact). Such signatures are
    only ever crafted (the chance of an honest one is about 2**-127), so craft one: take an
    x in [n, p) that is on the curve, r = x - n, and derive the address from the key it
    recovers, as Core's own message_verify test does with its crafted signature."""
    p = 2**256 - 2**32 - 977
    x = N + 1  # r = x - n must not be 0
    while pow(x**3 + 7, (p - 1) // 2, p) != 1:
        x += 1
    text = the_challenge("main")
    compact = (x - N).to_bytes(32, "big") + (12345).to_bytes(32, "big") + bytes([recovery_id])
    key = coincurve.PublicKey.from_signature_and_message(compact, magic_hash(text), hasher=None)
    address = str(script.p2wpkh(ec.PublicKey.parse(key.format())).address(NETWORKS["main"]))
    signature = base64.b64encode(bytes([31 + recovery_id]) + compact[:64]).decode()
    assert_proven(verify_bitcoin_ownership(bip137(signature), address, "main", text))
    # the same r read without the overflow bit is another point, hence another key
    low = base64.b64encode(bytes([31 + (recovery_id & 1)]) + compact[:64]).decode()
    assert verify_bitcoin_ownership(bip137(low), address, "main", text).status is Ownership.UNPROVEN


def test_bip137_uncompressed_header_for_a_segwit_address() -> None:
    priv = private_key(30)
    text = the_challenge("main")
    for kind in ("p2sh-p2wpkh", "p2wpkh"):
        address = address_of(priv, kind, "main")
        result = verify_bitcoin_ownership(
            bip137(sign_message(priv, text, 27)), address, "main", text
        )
        assert_unproven(result, Check.HEADER, "uncompressed")


def test_bip137_compressed_header_for_the_uncompressed_p2pkh_address() -> None:
    priv = private_key(31)
    text = the_challenge("main")
    address = address_of(priv, "p2pkh-uncompressed", "main")
    result = verify_bitcoin_ownership(bip137(sign_message(priv, text, 31)), address, "main", text)
    assert_unproven(result, Check.RECOVERED_KEY, address_of(priv, "p2pkh", "main"))


def test_bip137_refuses_script_addresses() -> None:
    ws = multisig_witness_script(1, [private_key(1).public_key.format().hex()])
    text = the_challenge("main")
    signature = sign_message(private_key(1), text, 31)
    result = verify_bitcoin_ownership(bip137(signature), multisig_address(ws, "main"), "main", text)
    assert_unproven(result, Check.ADDRESS_TYPE, "P2WSH", "p2wsh-multisig")


# ----------------------------------------------------------------------------- multisig


COSIGNERS = [private_key(40 + i) for i in range(3)]
OUTSIDER = private_key(49)


def two_of_three() -> str:
    return multisig_witness_script(2, [p.public_key.format().hex() for p in COSIGNERS])


def multisig_proof(signatures: list[str], witness_script: str | None = None) -> dict[str, Any]:
    return {
        "scheme": "p2wsh-multisig",
        "witness_script": witness_script or two_of_three(),
        "signatures": signatures,
    }


@pytest.mark.parametrize("network", NETWORKS_UNDER_TEST)
@pytest.mark.parametrize("wrapped", [False, True], ids=["p2wsh", "p2sh-p2wsh"])
class TestMultisig:
    def test_enough_cosigners_prove(self, network: str, wrapped: bool) -> None:
        address = multisig_address(two_of_three(), network, wrapped)
        text = the_challenge(network)
        for signers in ([0, 1], [2, 0], [0, 1, 2]):
            sigs = [sign_message(COSIGNERS[i], text, 31) for i in signers]
            result = verify_bitcoin_ownership(multisig_proof(sigs), address, network, text)
            assert_proven(result)
            assert f"{len(signers)} distinct keys of the 2-of-3" in result.reason

    def test_too_few_signatures(self, network: str, wrapped: bool) -> None:
        address = multisig_address(two_of_three(), network, wrapped)
        text = the_challenge(network)
        result = verify_bitcoin_ownership(
            multisig_proof([sign_message(COSIGNERS[1], text, 31)]), address, network, text
        )
        assert_unproven(result, Check.THRESHOLD, "only 1 of the 2")

    def test_cosigner_key_not_in_the_script(self, network: str, wrapped: bool) -> None:
        address = multisig_address(two_of_three(), network, wrapped)
        text = the_challenge(network)
        sigs = [sign_message(p, text, 31) for p in (COSIGNERS[0], OUTSIDER, COSIGNERS[1])]
        result = verify_bitcoin_ownership(multisig_proof(sigs), address, network, text)
        assert_unproven(result, Check.COSIGNER, "signature 2", OUTSIDER.public_key.format().hex())

    def test_duplicate_key(self, network: str, wrapped: bool) -> None:
        address = multisig_address(two_of_three(), network, wrapped)
        text = the_challenge(network)
        same = sign_message(COSIGNERS[0], text, 31)
        result = verify_bitcoin_ownership(multisig_proof([same, same]), address, network, text)
        assert_unproven(result, Check.DUPLICATE_KEY, "signatures 1 and 2")
        # the same key under another (equivalent) header is still the same cosigner
        other_header = sign_message(COSIGNERS[0], text, 39)
        result = verify_bitcoin_ownership(
            multisig_proof([same, other_header]), address, network, text
        )
        assert_unproven(result, Check.DUPLICATE_KEY)

    def test_witness_script_of_another_address(self, network: str, wrapped: bool) -> None:
        address = multisig_address(two_of_three(), network, wrapped)
        text = the_challenge(network)
        keys = [p.public_key.format().hex() for p in (*COSIGNERS[:2], OUTSIDER)]
        other_script = multisig_witness_script(2, keys)
        sigs = [sign_message(p, text, 31) for p in COSIGNERS[:2]]
        result = verify_bitcoin_ownership(
            multisig_proof(sigs, other_script), address, network, text
        )
        assert_unproven(
            result, Check.WITNESS_SCRIPT, multisig_address(other_script, network, wrapped)
        )

    def test_another_blocks_challenge(self, network: str, wrapped: bool) -> None:
        address = multisig_address(two_of_three(), network, wrapped)
        text = the_challenge(network)
        stale = the_challenge(network, height=431, block_hash=HASH_B)
        sigs = [sign_message(COSIGNERS[0], text, 31), sign_message(COSIGNERS[1], stale, 31)]
        result = verify_bitcoin_ownership(multisig_proof(sigs), address, network, text)
        assert_unproven(result, Check.COSIGNER, "signature 2", "another message")

    def test_flipped_signature_byte(self, network: str, wrapped: bool) -> None:
        address = multisig_address(two_of_three(), network, wrapped)
        text = the_challenge(network)
        sigs = [
            sign_message(COSIGNERS[0], text, 31),
            flip(sign_message(COSIGNERS[1], text, 31), 40),
        ]
        result = verify_bitcoin_ownership(multisig_proof(sigs), address, network, text)
        assert result.reason.split(":")[0] in {Check.COSIGNER, Check.RECOVERY}, result.reason

    def test_one_character_of_the_address_changed(self, network: str, wrapped: bool) -> None:
        address = change_one_character(multisig_address(two_of_three(), network, wrapped))
        text = the_challenge(network)
        sigs = [sign_message(p, text, 31) for p in COSIGNERS[:2]]
        result = verify_bitcoin_ownership(multisig_proof(sigs), address, network, text)
        assert_unproven(result, Check.ADDRESS)


def test_multisig_not_a_multisig_script() -> None:
    key = COSIGNERS[0].public_key.format()
    single = (b"\x21" + key + b"\xac").hex()  # <key> OP_CHECKSIG
    address = multisig_address(single, "regtest")
    text = the_challenge("regtest")
    result = verify_bitcoin_ownership(
        multisig_proof([sign_message(COSIGNERS[0], text, 31)], single), address, "regtest", text
    )
    assert_unproven(result, Check.MULTISIG_SCRIPT, "OP_1..OP_16")


def test_multisig_uncompressed_cosigner_header() -> None:
    address = multisig_address(two_of_three(), "main")
    text = the_challenge("main")
    sigs = [sign_message(COSIGNERS[0], text, 27), sign_message(COSIGNERS[1], text, 31)]
    result = verify_bitcoin_ownership(multisig_proof(sigs), address, "main", text)
    assert_unproven(result, Check.HEADER, "signature 1", "uncompressed")


def test_multisig_refuses_a_key_address() -> None:
    address = address_of(COSIGNERS[0], "p2wpkh", "main")
    text = the_challenge("main")
    result = verify_bitcoin_ownership(
        multisig_proof([sign_message(COSIGNERS[0], text, 31)]), address, "main", text
    )
    assert_unproven(result, Check.ADDRESS_TYPE, "P2WPKH")


def test_multisig_proof_fields() -> None:
    address = multisig_address(two_of_three(), "main")
    text = the_challenge("main")
    sig = sign_message(COSIGNERS[0], text, 31)
    cases: list[tuple[dict[str, Any], Check]] = [
        ({"scheme": "p2wsh-multisig", "witness_script": two_of_three()}, Check.NO_SIGNATURE),
        (
            {"scheme": "p2wsh-multisig", "witness_script": two_of_three(), "signatures": []},
            Check.NO_SIGNATURE,
        ),
        ({"scheme": "p2wsh-multisig", "signatures": [sig, sig]}, Check.PROOF),
        (
            {"scheme": "p2wsh-multisig", "witness_script": two_of_three(), "signatures": sig},
            Check.PROOF,
        ),
        (
            {"scheme": "p2wsh-multisig", "witness_script": two_of_three(), "signatures": [1]},
            Check.PROOF,
        ),
        (
            {"scheme": "p2wsh-multisig", "witness_script": "zz", "signatures": [sig]},
            Check.WITNESS_SCRIPT,
        ),
    ]
    for proof, check in cases:
        assert_unproven(verify_bitcoin_ownership(proof, address, "main", text), check)


def test_multisig_with_published_keys_and_script() -> None:
    """The 3-of-3 script and keys of the BIP-322 generated vectors, signed here with signmessage."""
    vector = next(
        v for v in BIP322["valid"] if v.get("private_keys") and "3-of-3" in v["description"]
    )
    privs = [coincurve.PrivateKey(ec.PrivateKey.from_wif(w).secret) for w in vector["private_keys"]]
    text = the_challenge("main")
    sigs = [sign_message(p, text, 31) for p in privs]
    proof = multisig_proof(sigs, vector["witness_script"])
    assert_proven(verify_bitcoin_ownership(proof, vector["address"], "main", text))
    proof = multisig_proof(sigs[:2], vector["witness_script"])
    assert_unproven(
        verify_bitcoin_ownership(proof, vector["address"], "main", text), Check.THRESHOLD
    )


@pytest.mark.parametrize(
    ("script_hex", "words"),
    [
        ("", "OP_1..OP_16"),
        ("00" + "21" + "02" * 33 + "51ae", "OP_1..OP_16"),
        ("52" + "21" + COSIGNERS[0].public_key.format().hex() + "51ae", "requires 2 signatures"),
        ("51" + ("21" + COSIGNERS[0].public_key.format().hex()) * 2 + "52ae", "more than once"),
        ("51" + "21" + COSIGNERS[0].public_key.format().hex() + "52ae", "OP_1 OP_CHECKMULTISIG"),
        ("51" + "21" + COSIGNERS[0].public_key.format().hex() + "51ae00", "OP_1 OP_CHECKMULTISIG"),
        ("51" + "21" + COSIGNERS[0].public_key.format().hex()[:20], "past the end"),
        ("51" + "21" + "02" + "ff" * 32 + "51ae", "not a valid public key"),
        (
            "51" + "41" + COSIGNERS[0].public_key.format(compressed=False).hex() + "51ae",
            "no 33-byte",
        ),
    ],
)
def test_parse_multisig_rejects(script_hex: str, words: str) -> None:
    with pytest.raises(InvalidProof) as raised:
        parse_multisig(bytes.fromhex(script_hex))
    assert raised.value.check == Check.MULTISIG_SCRIPT
    assert words in raised.value.message


def test_multisig_witness_script_sorts_and_validates() -> None:
    keys = [p.public_key.format().hex() for p in COSIGNERS]
    sorted_script = multisig_witness_script(2, keys)
    assert sorted_script == multisig_witness_script(2, list(reversed(keys)))
    assert parse_multisig(bytes.fromhex(sorted_script)) == (
        2,
        tuple(sorted(bytes.fromhex(k) for k in keys)),
    )
    assert multisig_witness_script(2, keys, sort=False) != multisig_witness_script(
        2, keys[::-1], sort=False
    )
    for m, bad in ((0, keys), (4, keys), (1, ["zz"]), (1, [keys[0], keys[0]])):
        with pytest.raises(InputError):
            multisig_witness_script(m, bad)


# ----------------------------------------------------------------------------- BIP-322


def bip322_proof(items: list[bytes], **extra: Any) -> dict[str, Any]:
    return {"scheme": "bip322-simple", "signature": witness_b64(items), **extra}


@pytest.mark.parametrize("network", NETWORKS_UNDER_TEST)
def test_bip322_generated_p2wpkh_proves(network: str) -> None:
    priv = private_key(50)
    address = address_of(priv, "p2wpkh", network)
    text = the_challenge(network)
    result = verify_bitcoin_ownership(
        bip322_proof(sign_bip322_p2wpkh(priv, text)), address, network, text
    )
    assert_proven(result)
    # the optional "smp" prefix of the current BIP-322 text
    proof = {
        "scheme": "bip322-simple",
        "signature": "smp" + witness_b64(sign_bip322_p2wpkh(priv, text)),
    }
    assert_proven(verify_bitcoin_ownership(proof, address, network, text))


@pytest.mark.parametrize("network", NETWORKS_UNDER_TEST)
def test_bip322_generated_p2wsh_multisig_proves(network: str) -> None:
    ws = bytes.fromhex(two_of_three())
    address = multisig_address(ws.hex(), network)
    text = the_challenge(network)
    items = sign_bip322_multisig([COSIGNERS[2], COSIGNERS[0]], text, ws)
    assert_proven(verify_bitcoin_ownership(bip322_proof(items), address, network, text))


def test_bip322_sighash_matches_embit() -> None:
    for n, message in enumerate(["", "Hello World", the_challenge("signet"), "x" * 300]):
        priv = private_key(60 + n)
        program = p2wpkh_program(priv)
        spk, code = b"\x00\x14" + program, b"\x76\xa9\x14" + program + b"\x88\xac"
        assert bip322_sighash(message, spk, code) == embit_bip322(message, spk, code)[2]


class TestBip322Tampering:
    network = "main"

    def setup_method(self) -> None:
        self.priv = private_key(70)
        self.address = address_of(self.priv, "p2wpkh", self.network)
        self.text = the_challenge(self.network)
        self.items = sign_bip322_p2wpkh(self.priv, self.text)

    def verify(self, proof: dict[str, Any], address: str | None = None) -> OwnershipCheck:
        return verify_bitcoin_ownership(proof, address or self.address, self.network, self.text)

    def test_untampered_proves(self) -> None:
        assert_proven(self.verify(bip322_proof(self.items)))

    @pytest.mark.parametrize("index", [0, 1, 5, 20, 40, 70, 72, 75, 100, -1])
    def test_flipped_witness_byte(self, index: int) -> None:
        raw = bytearray(Witness(self.items).serialize())
        raw[index] ^= 0x04
        result = self.verify(
            {"scheme": "bip322-simple", "signature": base64.b64encode(raw).decode()}
        )
        assert result.status is Ownership.UNPROVEN, (index, result)

    def test_pubkey_of_another_key(self) -> None:
        other = private_key(71).public_key.format()
        result = self.verify(bip322_proof([self.items[0], other]))
        assert_unproven(result, Check.PUBKEY_HASH, other.hex())

    def test_signature_by_another_key(self) -> None:
        theirs = sign_bip322_p2wpkh(private_key(71), self.text)
        result = self.verify(bip322_proof([theirs[0], self.items[1]]))
        assert_unproven(result, Check.ECDSA, "does not verify")

    def test_another_blocks_challenge(self) -> None:
        stale = sign_bip322_p2wpkh(
            self.priv, the_challenge(self.network, height=431, block_hash=HASH_B)
        )
        assert_unproven(self.verify(bip322_proof(stale)), Check.ECDSA, "another message")

    def test_another_exchanges_challenge(self) -> None:
        theirs = sign_bip322_p2wpkh(
            self.priv, the_challenge(self.network, exchange="Other Exchange")
        )
        assert_unproven(self.verify(bip322_proof(theirs)), Check.ECDSA)

    def test_proof_carrying_another_message(self) -> None:
        other = the_challenge(self.network, exchange="Other Exchange")
        result = self.verify(bip322_proof(sign_bip322_p2wpkh(self.priv, other), message=other))
        assert_unproven(result, Check.MESSAGE, "signed message is not this attestation's challenge")

    def test_one_character_of_the_address_changed(self) -> None:
        result = self.verify(bip322_proof(self.items), change_one_character(self.address))
        assert_unproven(result, Check.ADDRESS)

    def test_sighash_type_other_than_all(self) -> None:
        result = self.verify(bip322_proof([self.items[0][:-1] + b"\x02", self.items[1]]))
        assert_unproven(result, Check.SIGHASH_TYPE, "0x02")

    def test_high_s(self) -> None:
        r, s = der_decode(self.items[0][:-1])
        high = der_encode(r, N - s) + b"\x01"
        assert_unproven(self.verify(bip322_proof([high, self.items[1]])), Check.LOW_S)

    def test_not_strict_der(self) -> None:
        der = self.items[0][:-1]
        len_r = der[3]
        # r padded with a superfluous zero byte: valid BER, not strict DER (BIP-66)
        r_padded = b"\x00" + der[4 : 4 + len_r]
        body = b"\x02" + bytes([len(r_padded)]) + r_padded + der[4 + len_r :]
        bad = b"\x30" + bytes([len(body)]) + body + b"\x01"
        assert_unproven(self.verify(bip322_proof([bad, self.items[1]])), Check.DER)

    def test_empty_signature(self) -> None:
        assert_unproven(self.verify(bip322_proof([b"", self.items[1]])), Check.ECDSA, "empty")

    def test_uncompressed_witness_key(self) -> None:
        items = [self.items[0], self.priv.public_key.format(compressed=False)]
        assert_unproven(self.verify(bip322_proof(items)), Check.WITNESS, "compressed")

    @pytest.mark.parametrize("count", [1, 3])
    def test_wrong_item_count(self, count: int) -> None:
        items = [*self.items, b"\x01"][:count]
        words = "has 1 item" if count == 1 else f"has {count} items"  # the right plural
        assert_unproven(self.verify(bip322_proof(items)), Check.WITNESS, words)

    def test_trailing_bytes(self) -> None:
        raw = Witness(self.items).serialize() + b"\x00"
        proof = {"scheme": "bip322-simple", "signature": base64.b64encode(raw).decode()}
        assert_unproven(self.verify(proof), Check.ENCODING, "after the witness stack")

    def test_non_canonical_length(self) -> None:
        raw = b"\x02" + b"\xfd" + len(self.items[0]).to_bytes(2, "little") + self.items[0]
        raw += bytes([len(self.items[1])]) + self.items[1]
        proof = {"scheme": "bip322-simple", "signature": base64.b64encode(raw).decode()}
        assert_unproven(self.verify(proof), Check.ENCODING, "non-canonical")

    def test_full_and_proof_of_funds_forms_are_refused(self) -> None:
        for prefix in ("ful", "pof"):
            proof = {"scheme": "bip322-simple", "signature": prefix + witness_b64(self.items)}
            assert_unproven(self.verify(proof), Check.ENCODING, "only the simple form")

    def test_nested_segwit_address_is_refused(self) -> None:
        nested = address_of(self.priv, "p2sh-p2wpkh", self.network)
        assert_unproven(self.verify(bip322_proof(self.items), nested), Check.ADDRESS_TYPE, "P2SH")


class TestBip322MultisigTampering:
    def setup_method(self) -> None:
        self.script = bytes.fromhex(two_of_three())
        self.address = multisig_address(self.script.hex(), "main")
        self.text = the_challenge("main")
        self.items = sign_bip322_multisig(COSIGNERS[:2], self.text, self.script)

    def verify(self, items: list[bytes]) -> OwnershipCheck:
        return verify_bitcoin_ownership(bip322_proof(items), self.address, "main", self.text)

    def test_untampered_proves(self) -> None:
        assert_proven(self.verify(self.items))

    def test_signatures_out_of_key_order(self) -> None:
        items = [self.items[0], self.items[2], self.items[1], self.items[3]]
        assert_unproven(self.verify(items), Check.ECDSA, "out of key order")

    def test_non_empty_dummy(self) -> None:
        assert_unproven(self.verify([b"\x01", *self.items[1:]]), Check.WITNESS, "NULLDUMMY")

    def test_too_few_signatures(self) -> None:
        assert_unproven(self.verify([b"", self.items[1], self.script]), Check.WITNESS, "exactly 2")

    def test_too_many_signatures(self) -> None:
        # all three cosigners, in key order: CHECKMULTISIG would leave one on the stack
        items = sign_bip322_multisig(COSIGNERS, self.text, self.script)
        assert_unproven(self.verify(items), Check.WITNESS, "carries 3 signatures", "exactly 2")

    def test_outsider_signature(self) -> None:
        outsider = sign_bip322_multisig([OUTSIDER], self.text, self.script)[1]
        assert_unproven(self.verify([b"", self.items[1], outsider, self.script]), Check.ECDSA)

    def test_witness_script_of_another_address(self) -> None:
        keys = [p.public_key.format().hex() for p in (*COSIGNERS[:2], OUTSIDER)]
        other = bytes.fromhex(multisig_witness_script(2, keys))
        items = sign_bip322_multisig(COSIGNERS[:2], self.text, other)
        assert_unproven(self.verify(items), Check.WITNESS_SCRIPT)


# ----------------------------------------------------------------------------- entry point


@pytest.mark.parametrize("proof", [None, {}])
def test_missing_proof(proof: dict[str, Any] | None) -> None:
    result = verify_bitcoin_ownership(
        proof, "bc1q9vza2e8x573nczrlzms0wvx3gsqjx7vavgkx0l", "main", "m"
    )
    assert_unproven(result, Check.NO_SIGNATURE)
    assert result.scheme is None


@pytest.mark.parametrize("scheme", ["bip999", "BIP137", None, 137])
def test_unsupported_scheme(scheme: Any) -> None:
    result = verify_bitcoin_ownership({"scheme": scheme, "signature": "x"}, "1abc", "main", "m")
    assert_unproven(result, Check.SCHEME, repr(scheme))


@pytest.mark.parametrize("network", ["mainnet", "testnet3", "", "bitcoin"])
def test_unknown_network_is_a_configuration_error(network: str) -> None:
    with pytest.raises(InputError, match="unknown Bitcoin network"):
        verify_bitcoin_ownership({"scheme": "bip137", "signature": "x"}, "1abc", network, "m")


def test_testnet4_uses_testnet_addresses() -> None:
    priv = private_key(80)
    text = challenge("Example Exchange", "exch-2026-11", block("testnet4"))
    address = address_of(priv, "p2wpkh", "test")
    assert_proven(
        verify_bitcoin_ownership(bip137(sign_message(priv, text, 39)), address, "testnet4", text)
    )


def test_addresses_map_of_an_xpub_wallet() -> None:
    privs = [private_key(81), private_key(82)]
    text = the_challenge("regtest")
    addresses = [address_of(p, "p2wpkh", "regtest") for p in privs]
    proof = {
        "scheme": "bip137",
        "addresses": {a: sign_message(p, text, 39) for a, p in zip(addresses, privs, strict=True)},
    }
    for address in addresses:
        assert_proven(verify_bitcoin_ownership(proof, address, "regtest", text))
    stranger = address_of(private_key(83), "p2wpkh", "regtest")
    assert_unproven(
        verify_bitcoin_ownership(proof, stranger, "regtest", text), Check.NO_SIGNATURE, stranger
    )


def test_signature_of_the_wrong_type() -> None:
    result = verify_bitcoin_ownership({"scheme": "bip137", "signature": 7}, "1abc", "main", "m")
    assert_unproven(result, Check.PROOF, "not a string")


def test_bech32_case_and_encoding_rules() -> None:
    priv = private_key(84)
    text = the_challenge("main")
    address = address_of(priv, "p2wpkh", "main")
    signature = sign_message(priv, text, 39)
    assert_proven(verify_bitcoin_ownership(bip137(signature), address.upper(), "main", text))
    mixed = address[:10] + address[10:].upper()
    assert_unproven(verify_bitcoin_ownership(bip137(signature), mixed, "main", text), Check.ADDRESS)
    # a v0 program under the bech32m checksum (BIP-350) is not a valid address
    data = [0, *embit_bech32.convertbits(p2wpkh_program(priv), 8, 5)]
    bech32m = embit_bech32.bech32_encode(embit_bech32.Encoding.BECH32M, "bc", data)
    assert_unproven(
        verify_bitcoin_ownership(bip137(signature), bech32m, "main", text), Check.ADDRESS
    )
    # another network's prefix
    regtest = address_of(priv, "p2wpkh", "regtest")
    result = verify_bitcoin_ownership(bip137(signature), regtest, "main", text)
    assert_unproven(result, Check.ADDRESS, "another network")


def test_ownership_check_is_json_ready() -> None:
    priv = private_key(85)
    text = the_challenge("signet")
    address = address_of(priv, "p2pkh", "signet")
    result = verify_bitcoin_ownership(bip137(sign_message(priv, text, 31)), address, "signet", text)
    assert json.loads(json.dumps(result.to_json()))["status"] == "proven"


# ----------------------------------------------------------------------------- properties


PROPERTY = settings(max_examples=150, deadline=None, database=None)
secrets = st.integers(min_value=1, max_value=N - 1).map(coincurve.PrivateKey.from_int)
messages = st.text(max_size=200)


def header_equivalent(old: int, new: int, kind: str) -> bool:
    """Would BIP-137 accept `new` in place of `old` for a `kind` address (same key)?"""
    if not 31 <= new <= 42 or (new - 27) & 3 != (old - 27) & 3:
        return False
    allowed = {"p2pkh": (31,), "p2sh-p2wpkh": (31, 35), "p2wpkh": (31, 39)}.get(kind, ())
    return (new - 27) // 4 * 4 + 27 in allowed


@PROPERTY
@given(
    priv=secrets,
    message=messages,
    kind=st.sampled_from(KINDS),
    network=st.sampled_from(NETWORKS_UNDER_TEST),
    index=st.integers(min_value=0, max_value=64),
    mask=st.integers(min_value=1, max_value=255),
)
@example(
    priv=coincurve.PrivateKey.from_int(1),
    message="",
    kind="p2wpkh",
    network="main",
    index=0,
    mask=39 ^ 31,
)
def test_property_bip137_sign_verify_and_any_byte_change_fails(
    priv: coincurve.PrivateKey, message: str, kind: str, network: str, index: int, mask: int
) -> None:
    address = address_of(priv, kind, network)
    signature = sign_message(priv, message, HEADER_BASE[kind])
    assert_proven(verify_bitcoin_ownership(bip137(signature), address, network, message))
    tampered = flip(signature, index, mask)
    result = verify_bitcoin_ownership(bip137(tampered), address, network, message)
    if result.status is Ownership.PROVEN:
        # the header byte is not signed: BIP-137 lets an equivalent header name the same key
        old = base64.b64decode(signature)[0]
        assert index == 0 and header_equivalent(old, old ^ mask, kind), (index, mask, result)


@PROPERTY
@given(priv=secrets, message=messages, data=st.data())
def test_property_bip322_sign_verify_and_any_byte_change_fails(
    priv: coincurve.PrivateKey, message: str, data: st.DataObject
) -> None:
    network = data.draw(st.sampled_from(NETWORKS_UNDER_TEST))
    address = address_of(priv, "p2wpkh", network)
    raw = Witness(sign_bip322_p2wpkh(priv, message)).serialize()
    proof = {"scheme": "bip322-simple", "signature": base64.b64encode(raw).decode()}
    assert_proven(verify_bitcoin_ownership(proof, address, network, message))
    index = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    mask = data.draw(st.integers(min_value=1, max_value=255))
    tampered = bytearray(raw)
    tampered[index] ^= mask
    proof = {"scheme": "bip322-simple", "signature": base64.b64encode(bytes(tampered)).decode()}
    result = verify_bitcoin_ownership(proof, address, network, message)
    assert result.status is Ownership.UNPROVEN, (index, mask, result)


@PROPERTY
@given(
    privs=st.lists(secrets, min_size=3, max_size=3, unique_by=lambda p: p.secret),
    message=messages,
    signers=st.sets(st.integers(0, 2), min_size=0, max_size=3),
)
def test_property_multisig_threshold(
    privs: list[coincurve.PrivateKey], message: str, signers: set[int]
) -> None:
    ws = multisig_witness_script(2, [p.public_key.format().hex() for p in privs])
    address = multisig_address(ws, "main")
    sigs = [sign_message(privs[i], message, 31) for i in sorted(signers)]
    result = verify_bitcoin_ownership(multisig_proof(sigs, ws), address, "main", message)
    assert (result.status is Ownership.PROVEN) == (len(signers) >= 2), result.reason
