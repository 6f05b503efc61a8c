"""Ethereum ownership proofs without a node: EIP-191 recovery and the EIP-1271 decision.

Signatures are made here with `eth_account` keys; the EIP-1271 contract call is replaced by
a fake adapter (the real contract is exercised in tests/integration/test_ethereum.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.crypto import keccak

from chains.base import BlockRef, Chain, Ownership
from chains.challenge import challenge
from chains.eth_ownership import challenge_hash, check_eip1271, verify_eip191

OWNER = Account.from_key(keccak(text="por unit owner"))
OTHER = Account.from_key(keccak(text="por unit other"))
BLOCK = BlockRef(Chain.ETHEREUM, "1", 21_000_000, "ab" * 32)
NEXT = BlockRef(Chain.ETHEREUM, "1", 21_000_001, "cd" * 32)
TEXT = challenge("Example Exchange", "exch-2026-11", BLOCK)


def sign(text: str, account=OWNER) -> str:
    return "0x" + account.sign_message(encode_defunct(text=text)).signature.hex()


def test_challenge_hash_is_eip191_personal_message():
    data = TEXT.encode()
    expected = keccak(b"\x19Ethereum Signed Message:\n" + str(len(data)).encode() + data)
    assert challenge_hash(TEXT) == expected


@pytest.mark.parametrize(
    "form",
    [
        lambda s: s,
        lambda s: s[2:],
        lambda s: s.upper().replace("0X", "0x"),
        lambda s: bytes.fromhex(s[2:]),
    ],
)
def test_valid_signature_is_proven(form):
    verdict = verify_eip191(OWNER.address, TEXT, form(sign(TEXT)))
    assert verdict.status is Ownership.PROVEN, verdict.reason
    assert verdict.scheme == "eip191"
    assert verdict.address == OWNER.address


def test_address_case_does_not_matter():
    assert verify_eip191(OWNER.address.lower(), TEXT, sign(TEXT)).status is Ownership.PROVEN


def test_v_as_0_or_1_is_accepted():
    raw = bytearray.fromhex(sign(TEXT)[2:])
    raw[64] -= 27
    assert verify_eip191(OWNER.address, TEXT, bytes(raw)).status is Ownership.PROVEN


@pytest.mark.parametrize("byte", [0, 17, 31, 32, 50, 63])
def test_a_tampered_signature_byte_is_unproven(byte):
    raw = bytearray.fromhex(sign(TEXT)[2:])
    raw[byte] ^= 0x01
    verdict = verify_eip191(OWNER.address, TEXT, bytes(raw))
    assert verdict.status is Ownership.UNPROVEN
    assert "recovers to" in verdict.reason or "malformed signature" in verdict.reason


def test_signature_over_another_blocks_challenge_is_unproven():
    old = sign(challenge("Example Exchange", "exch-2026-11", NEXT))
    verdict = verify_eip191(OWNER.address, TEXT, old)
    assert verdict.status is Ownership.UNPROVEN
    assert "recovers to 0x" in verdict.reason and "another" in verdict.reason


def test_signature_over_another_exchanges_challenge_is_unproven():
    theirs = sign(challenge("Other Exchange", "exch-2026-11", BLOCK))
    assert verify_eip191(OWNER.address, TEXT, theirs).status is Ownership.UNPROVEN


def test_signature_by_another_key_names_the_signer():
    verdict = verify_eip191(OWNER.address, TEXT, sign(TEXT, OTHER))
    assert verdict.status is Ownership.UNPROVEN
    assert OTHER.address in verdict.reason


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        ("0x1234", "malformed signature: 2 bytes, expected 65"),
        ("", "malformed signature: 0 bytes, expected 65"),
        ("not hex at all", "malformed signature: not hex"),
        ("0x" + "11" * 64 + "1d", "malformed signature: v = 29, not 27 or 28"),
        ("0x" + "00" * 65, "malformed signature: no public key recovers"),
    ],
)
def test_malformed_signatures_say_why(signature, reason):
    verdict = verify_eip191(OWNER.address, TEXT, signature)
    assert verdict.status is Ownership.UNPROVEN
    assert verdict.reason.startswith(reason), verdict.reason


def test_zero_r_and_s_cannot_recover():
    verdict = verify_eip191(OWNER.address, TEXT, "0x" + "00" * 64 + "1b")
    assert verdict.status is Ownership.UNPROVEN
    assert verdict.reason.startswith("malformed signature")


def test_not_an_address_is_unproven():
    verdict = verify_eip191("0x1234", TEXT, sign(TEXT))
    assert verdict.status is Ownership.UNPROVEN
    assert "not an Ethereum address" in verdict.reason


# ---------------------------------------------------------------------- EIP-1271 decision


@dataclass
class FakeWallet:
    """Stands in for the adapter: a contract that accepts OWNER's signatures."""

    code: bytes = b"\x60\x80"
    calls: list[tuple[str, bytes, bytes, BlockRef]] = field(default_factory=list)

    async def code_at(self, address: str, at: BlockRef) -> bytes:
        return self.code

    async def call_is_valid_signature(
        self, contract: str, hash32: bytes, signature: bytes, at: BlockRef
    ) -> bool:
        self.calls.append((contract, hash32, signature, at))
        signer = Account._recover_hash(hash32, signature=signature)
        return signer == OWNER.address


async def test_eip1271_passes_the_eip191_hash_at_the_pinned_block():
    wallet = FakeWallet()
    address = "0x" + "42" * 20
    verdict = await check_eip1271(wallet, address, TEXT, sign(TEXT), BLOCK)
    assert verdict.status is Ownership.PROVEN, verdict.reason
    assert verdict.scheme == "eip1271"
    ((contract, hash32, signature, at),) = wallet.calls
    assert (contract, hash32, at) == (address, challenge_hash(TEXT), BLOCK)
    assert signature == bytes.fromhex(sign(TEXT)[2:])


async def test_eip1271_rejection_is_unproven():
    verdict = await check_eip1271(FakeWallet(), "0x" + "42" * 20, TEXT, sign(TEXT, OTHER), BLOCK)
    assert verdict.status is Ownership.UNPROVEN
    assert "did not return 0x1626ba7e" in verdict.reason


async def test_eip1271_without_code_is_unproven():
    wallet = FakeWallet(code=b"")
    verdict = await check_eip1271(wallet, "0x" + "42" * 20, TEXT, sign(TEXT), BLOCK)
    assert verdict.status is Ownership.UNPROVEN
    assert "no contract code" in verdict.reason
    assert wallet.calls == []


async def test_eip1271_non_hex_signature_is_unproven():
    verdict = await check_eip1271(FakeWallet(), "0x" + "42" * 20, TEXT, "zz", BLOCK)
    assert verdict.status is Ownership.UNPROVEN
    assert "not hex" in verdict.reason
