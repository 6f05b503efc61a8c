"""The tool reproduces every value of the `por-mst-v1` vectors in fixtures/vectors/.

The vectors were written by tests/conformance/make_vectors.py with the independent
`minimal_mst`; see fixtures/vectors/README.md for the fields.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

from attestations.encoding import (
    AssetSpec,
    account_hash,
    commitment,
    derive_salt,
    leaf_hash,
    node_hash,
    pad_hash,
    tree_height,
)
from attestations.proofs import (
    format_units,
    parse_proof,
    parse_root_document,
    verify_proof,
)
from verifier.base.errors import InvalidProof
from verifier.cli.main import main

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_vectors

VECTOR_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "vectors"
FILES = sorted(VECTOR_DIR.glob("*.json"))


def test_vectors_are_present():
    assert len(FILES) >= 4, f"expected the vector files in {VECTOR_DIR}"
    assert (VECTOR_DIR / "README.md").is_file()


@pytest.fixture(params=FILES, ids=[f.stem for f in FILES])
def vector(request) -> dict:
    return json.loads(request.param.read_text(encoding="utf-8"))


def _sums(values: list[str]) -> tuple[int, ...]:
    return tuple(int(v) for v in values)


def _assets(vector: dict) -> tuple[AssetSpec, ...]:
    return tuple(AssetSpec(a["code"], a["decimals"]) for a in vector["inputs"]["assets"])


def test_file_is_what_the_generator_writes(vector):
    """The minimal implementation recomputes the whole file from its inputs (no drift)."""
    spec = next(s for s in make_vectors.VECTORS if s["name"] == vector["name"])
    assert make_vectors.make(spec) == vector
    path = VECTOR_DIR / f"{vector['name']}.json"
    assert path.read_text(encoding="utf-8") == make_vectors.render(vector)


def test_account_hashes(vector):
    for account_id, expected in vector["expected"]["account_hashes"].items():
        assert account_hash(account_id).hex() == expected


WITH_MASTER = [
    f for f in FILES if json.loads(f.read_text(encoding="utf-8"))["inputs"]["master_secret"]
]


@pytest.mark.parametrize("path", WITH_MASTER, ids=[f.stem for f in WITH_MASTER])
def test_recommended_salts(path):
    """Salts of vectors with a master secret follow the spec's recommended derivation."""
    vector = json.loads(path.read_text(encoding="utf-8"))
    master = vector["inputs"]["master_secret"]
    for leaf in vector["inputs"]["leaves"]:
        if leaf["kind"] == "account":
            assert (
                derive_salt(bytes.fromhex(master), leaf["account_id"], leaf["part"]).hex()
                == leaf["salt"]
            )


def test_leaf_and_padding_hashes(vector):
    leaves = vector["inputs"]["leaves"]
    expected = vector["expected"]
    assert [leaf["index"] for leaf in leaves] == list(range(len(leaves)))
    assert len(leaves) == 2 ** expected["height"]
    for leaf in leaves:
        i = leaf["index"]
        if leaf["kind"] == "padding":
            got = pad_hash(bytes.fromhex(leaf["pad_salt"]))
            sums = ("0",) * len(vector["inputs"]["assets"])
        else:
            got = leaf_hash(
                bytes.fromhex(leaf["salt"]),
                account_hash(leaf["account_id"]),
                _sums(leaf["balances"]),
            )
            sums = tuple(leaf["balances"])
        assert got.hex() == expected["leaf_hashes"][i]
        assert expected["levels"][0][i] == {"hash": got.hex(), "sums": list(sums)}
        assert hashlib.sha256(bytes.fromhex(expected["preimages"][0][i])).hexdigest() == got.hex()


def test_node_hashes(vector):
    levels = vector["expected"]["levels"]
    assert len(levels) == vector["expected"]["height"] + 1
    for k in range(1, len(levels)):
        below = levels[k - 1]
        assert len(levels[k]) * 2 == len(below)
        for i, node in enumerate(levels[k]):
            left, right = below[2 * i], below[2 * i + 1]
            got = node_hash(
                bytes.fromhex(left["hash"]),
                _sums(left["sums"]),
                bytes.fromhex(right["hash"]),
                _sums(right["sums"]),
            )
            assert got.hex() == node["hash"]
            assert _sums(node["sums"]) == tuple(
                a + b for a, b in zip(_sums(left["sums"]), _sums(right["sums"]), strict=True)
            )
            assert (
                hashlib.sha256(bytes.fromhex(vector["expected"]["preimages"][k][i])).hexdigest()
                == got.hex()
            )
    assert levels[-1] == [vector["expected"]["root"]]


def test_height_root_and_commitment(vector):
    inputs, expected = vector["inputs"], vector["expected"]
    real = sum(1 for leaf in inputs["leaves"] if leaf["kind"] == "account")
    assert tree_height(real) == expected["height"]
    root = expected["root"]
    got = commitment(
        inputs["attestation_id"],
        _assets(vector),
        expected["height"],
        bytes.fromhex(root["hash"]),
        _sums(root["sums"]),
    )
    assert got.hex() == expected["commitment"]
    assert hashlib.sha256(bytes.fromhex(expected["commitment_preimage"])).hexdigest() == got.hex()
    doc = parse_root_document(expected["root_document"])
    assert doc.commitment.hex() == expected["commitment"]
    assert doc.root.hash.hex() == root["hash"] and doc.root.sums == _sums(root["sums"])
    assert doc.to_json() == expected["root_document"]
    # the root sums are the totals of the accounts' balances
    totals = [
        sum(col) for col in zip(*(_sums(a["balances"]) for a in inputs["accounts"]), strict=True)
    ]
    assert list(_sums(root["sums"])) == totals


def test_proofs_verify_with_the_tool(vector):
    expected = vector["expected"]
    root = parse_root_document(expected["root_document"])
    assert {p["account_id"] for p in expected["proofs"]} == set(expected["balances"])
    for raw in expected["proofs"]:
        proof = parse_proof(raw)
        assert proof.to_json() == raw  # the tool writes exactly this proof back
        result = verify_proof(proof, published_root=root)
        want = expected["balances"][raw["account_id"]]
        assert result.balances == tuple(int(want[a.code]["base_units"]) for a in proof.assets)
        assert result.balances_whole() == {code: b["whole"] for code, b in want.items()}
        assert {
            a.code: format_units(v, a.decimals)
            for a, v in zip(proof.assets, result.balances, strict=True)
        } == {code: b["whole"] for code, b in want.items()}
        verify_proof(proof, published_commitment=bytes.fromhex(expected["commitment"]))


def test_proofs_verify_through_the_cli(vector, tmp_path):
    root_file = tmp_path / "root.json"
    root_file.write_text(
        json.dumps(vector["expected"]["root_document"], ensure_ascii=False), encoding="utf-8"
    )
    for n, raw in enumerate(vector["expected"]["proofs"]):
        proof_file = tmp_path / f"proof-{n}.json"
        proof_file.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
        assert main(["verify-proof", str(proof_file), "--root", str(root_file)]) == 0


def test_invalid_proofs_rejected_by_the_tool(vector):
    invalid = vector["expected"]["invalid_proofs"]
    base = vector["expected"]["proofs"][invalid["proof"]]
    verify_proof(parse_proof(base))  # the untampered proof is fine
    assert invalid["cases"]
    for case in invalid["cases"]:
        bad = make_vectors.apply_patch(base, case["patch"])
        assert bad != base
        with pytest.raises(InvalidProof):
            verify_proof(parse_proof(bad))
