"""EIP-1186 proof verification on a recorded anvil `eth_getProof` reply (no node needed).

The vector fixtures/contracts/getproof-recorded.json holds one block header and, at that
block, the proofs of a funded account, of an address that was never used, and of a
TestToken contract with the balance slots of a holder and of a non-holder. Every check of
`chains/eth_proofs.py` must accept the recording as it is and reject any single change to a
proof node, a stated value, the stateRoot or the header. Re-record with
`python tests/unit/test_eth_proofs.py` (needs anvil).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak

from chains.eth_proofs import (
    EMPTY_CODE_HASH,
    EMPTY_TRIE_ROOT,
    ProofMismatch,
    balance_slot,
    header_hash,
    verify_account_proof,
    verify_header,
    verify_storage_proof,
)
from verifier.base.errors import MalformedReply

VECTOR = Path(__file__).resolve().parents[2] / "fixtures" / "contracts" / "getproof-recorded.json"


@pytest.fixture
def rec() -> dict[str, Any]:
    return json.loads(VECTOR.read_text(encoding="utf-8"))


def flip(hex_text: str, at: int) -> str:
    digits = list(hex_text)
    digits[at] = "1" if digits[at] != "1" else "2"
    return "".join(digits)


def state_root(rec: dict[str, Any]) -> bytes:
    return verify_header(rec["block"], rec["block"]["hash"][2:])


def storage_root(rec: dict[str, Any]) -> bytes:
    return verify_account_proof(state_root(rec), rec["token"], rec["token_proof"]).storage_root


# ---------------------------------------------------------------------- header


def test_header_hashes_to_the_block_hash(rec):
    assert header_hash(rec["block"]) == rec["block"]["hash"][2:]
    assert state_root(rec) == bytes.fromhex(rec["block"]["stateRoot"][2:])


@pytest.mark.parametrize(
    "field", ["stateRoot", "parentHash", "number", "timestamp", "requestsHash", "extraData"]
)
def test_a_changed_header_field_is_rejected(rec, field):
    block = rec["block"]
    if field in ("number", "timestamp"):
        block[field] = hex(int(block[field], 16) + 1)
    elif field == "extraData":
        block[field] = "0x01"
    else:
        block[field] = flip(block[field], 5)
    with pytest.raises(ProofMismatch) as raised:
        verify_header(block, rec["block"]["hash"][2:])
    assert raised.value.check == "header"


def test_a_header_without_a_required_field_is_malformed(rec):
    del rec["block"]["miner"]
    with pytest.raises(MalformedReply):
        header_hash(rec["block"])


# ---------------------------------------------------------------------- accounts


def test_account_proof_gives_the_recorded_balance(rec):
    account = verify_account_proof(state_root(rec), rec["holder"], rec["holder_proof"])
    assert account.balance == rec["holder_balance"]
    assert account.code_hash == EMPTY_CODE_HASH
    assert account.storage_root == EMPTY_TRIE_ROOT


def test_address_case_does_not_matter(rec):
    upper = "0x" + rec["holder"][2:].upper()
    assert verify_account_proof(state_root(rec), upper, rec["holder_proof"]).balance > 0


def test_absent_account_is_proven_empty(rec):
    account = verify_account_proof(state_root(rec), rec["absent"], rec["absent_proof"])
    assert (account.nonce, account.balance) == (0, 0)


def test_absent_account_claimed_funded_is_rejected(rec):
    rec["absent_proof"]["balance"] = hex(10**18)
    with pytest.raises(ProofMismatch) as raised:
        verify_account_proof(state_root(rec), rec["absent"], rec["absent_proof"])
    assert raised.value.check == "account fields"


@pytest.mark.parametrize("field", ["balance", "nonce", "storageHash", "codeHash"])
def test_a_stated_account_field_that_differs_is_rejected(rec, field):
    proof = rec["holder_proof"]
    proof[field] = (
        hex(int(proof[field], 16) + 1) if field in ("balance", "nonce") else flip(proof[field], 7)
    )
    with pytest.raises(ProofMismatch) as raised:
        verify_account_proof(state_root(rec), rec["holder"], proof)
    assert raised.value.check == "account fields"
    assert raised.value.address == rec["holder"]


def test_every_byte_of_every_account_proof_node_matters(rec):
    root = state_root(rec)
    nodes = rec["holder_proof"]["accountProof"]
    checked = 0
    for i, node in enumerate(nodes):
        for at in range(2, len(node), max(1, len(node) // 24)):
            tampered = copy.deepcopy(rec["holder_proof"])
            tampered["accountProof"][i] = flip(node, at)
            with pytest.raises((ProofMismatch, MalformedReply)):
                verify_account_proof(root, rec["holder"], tampered)
            checked += 1
    assert checked > 40


def test_dropped_or_reordered_nodes_are_rejected(rec):
    root = state_root(rec)
    dropped = copy.deepcopy(rec["holder_proof"])
    dropped["accountProof"].pop(0)
    with pytest.raises(ProofMismatch):
        verify_account_proof(root, rec["holder"], dropped)
    no_nodes = copy.deepcopy(rec["holder_proof"])
    no_nodes["accountProof"] = []
    with pytest.raises(ProofMismatch):
        verify_account_proof(root, rec["holder"], no_nodes)


def test_another_state_root_is_rejected(rec):
    with pytest.raises(ProofMismatch) as raised:
        verify_account_proof(b"\x11" * 32, rec["holder"], rec["holder_proof"])
    assert raised.value.check == "account proof"


def test_a_proof_for_another_address_is_rejected(rec):
    with pytest.raises(ProofMismatch):
        verify_account_proof(state_root(rec), rec["absent"], rec["holder_proof"])


def test_the_absent_proof_does_not_prove_the_funded_account_empty(rec):
    # an exclusion proof for one key says nothing about another key
    forged = copy.deepcopy(rec["absent_proof"])
    forged["address"] = rec["holder"]
    with pytest.raises(ProofMismatch):
        verify_account_proof(state_root(rec), rec["holder"], forged)


def test_non_hex_proof_node_is_malformed(rec):
    rec["holder_proof"]["accountProof"][0] = "0xzz"
    with pytest.raises(MalformedReply):
        verify_account_proof(state_root(rec), rec["holder"], rec["holder_proof"])


# ---------------------------------------------------------------------- storage


def test_balance_slot_is_the_solidity_mapping_layout(rec):
    holder = rec["token_holders"][0]
    assert balance_slot(holder, 0) == keccak(abi_encode(["address", "uint256"], [holder, 0]))
    assert balance_slot(holder, 3) == keccak(abi_encode(["address", "uint256"], [holder, 3]))
    assert (
        "0x" + balance_slot(holder, rec["slot"]).hex()
        == rec["token_proof"]["storageProof"][0]["key"]
    )


def test_storage_proofs_give_the_recorded_token_balances(rec):
    root = storage_root(rec)
    entries = rec["token_proof"]["storageProof"]
    for holder, units, entry in zip(
        rec["token_holders"], rec["token_balances"], entries, strict=True
    ):
        assert (
            verify_storage_proof(root, balance_slot(holder, rec["slot"]), entry, rec["token"])
            == units
        )
    assert rec["token_balances"][0] > 0 and rec["token_balances"][1] == 0


@pytest.mark.parametrize("index", [0, 1])
def test_a_stated_storage_value_that_differs_is_rejected(rec, index):
    entry = rec["token_proof"]["storageProof"][index]
    entry["value"] = hex(int(entry["value"], 16) + 1)
    key = balance_slot(rec["token_holders"][index], rec["slot"])
    with pytest.raises(ProofMismatch) as raised:
        verify_storage_proof(storage_root(rec), key, entry, rec["token"])
    assert raised.value.check == "storage value"


def test_a_tampered_storage_proof_node_is_rejected(rec):
    entry = rec["token_proof"]["storageProof"][0]
    entry["proof"][-1] = flip(entry["proof"][-1], len(entry["proof"][-1]) - 3)
    key = balance_slot(rec["token_holders"][0], rec["slot"])
    with pytest.raises(ProofMismatch) as raised:
        verify_storage_proof(storage_root(rec), key, entry, rec["token"])
    assert raised.value.check in {"storage proof", "storage value"}


def test_a_storage_proof_for_another_key_is_rejected(rec):
    entry = rec["token_proof"]["storageProof"][0]
    other = balance_slot(rec["token_holders"][1], rec["slot"])
    with pytest.raises(ProofMismatch) as raised:
        verify_storage_proof(storage_root(rec), other, entry, rec["token"])
    assert raised.value.check == "storage value"


def test_storage_proof_against_another_root_is_rejected(rec):
    entry = rec["token_proof"]["storageProof"][0]
    key = balance_slot(rec["token_holders"][0], rec["slot"])
    with pytest.raises(ProofMismatch):
        verify_storage_proof(EMPTY_TRIE_ROOT, key, entry, rec["token"])


def test_a_tampered_token_storage_root_is_rejected(rec):
    rec["token_proof"]["storageHash"] = flip(rec["token_proof"]["storageHash"], 9)
    with pytest.raises(ProofMismatch):
        verify_account_proof(state_root(rec), rec["token"], rec["token_proof"])


# ---------------------------------------------------------------------- recording


def record(path: Path = VECTOR) -> None:
    """Record the vector from a fresh anvil (run this file as a script)."""
    from chains.nodes.anvil import Anvil
    from chains.nodes.solc import load_artifact

    token = load_artifact("TestToken")
    with Anvil() as node:
        contract = node.deploy(token, "Tether USD", "USDT", 6)
        holder = "0x" + keccak(text="por recorded holder")[:20].hex()
        absent = "0x" + keccak(text="por recorded absent")[:20].hex()
        node.transact(contract, token, "mint", [holder], [1_234_567_890])
        node.transfer_eth(node.accounts()[1], holder, 3 * 10**18 + 5)
        height = hex(node.mine(2))
        holders = [holder, absent]
        keys = ["0x" + balance_slot(h, 0).hex() for h in holders]
        doc = {
            "comment": "anvil 1.7.1 eth_getProof replies at one block; see tests/unit/test_eth_proofs.py",
            "block": node.rpc("eth_getBlockByNumber", height, False),
            "holder": holder,
            "holder_balance": 3 * 10**18 + 5,
            "holder_proof": node.rpc("eth_getProof", holder, [], height),
            "absent": absent,
            "absent_proof": node.rpc("eth_getProof", absent, [], height),
            "token": contract.lower(),
            "slot": 0,
            "token_holders": holders,
            "token_balances": [1_234_567_890, 0],
            "token_proof": node.rpc("eth_getProof", contract, keys, height),
        }
    path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    record()
