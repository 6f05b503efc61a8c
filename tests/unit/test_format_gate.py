"""The `gate` format: Gate.io's zk account tree (gateio/proof-of-reserves), one user's path.

Evidence: Gate's published ``user_config.json`` and ``proof.csv`` (fixtures/samples/gate/, from
gateio/proof-of-reserves @ 87db18df) verify with N = 800 detected and the stated root; the
empty tree's root the batch file starts from equals the constant in Gate's own verifier
(``service/verify_service/service.go``: ``037bf6d8…5436``), an independent vector for the
nil leaf, the N = 800 packing and the tree; tampered copies (a balance, a total, an asset
entry, a sibling, the index, the id hash, the root, the batch file) fail naming the check;
hostile values of every field are refused by name, never a traceback.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attestations.formats import FORMATS, ProofInput, detect, gate, htx_zk, verify, zk_tree
from attestations.formats.poseidon import FIELD, poseidon_gnark
from verifier.base.errors import InputError, InvalidProof, UsageError

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"
USER = SAMPLES / "gate" / "user_config.json"
BATCHES = SAMPLES / "gate" / "proof.csv"
ROOT = "2e7e01ad51d5c668e8d581be83fcfe806644b7c834876d540b188816a67778e6"
EMPTY_ROOT_IN_GATES_VERIFIER = "037bf6d8fe5b7cbaecf7b35604b57f82173f5c8155c1c750cef00afebcd65436"


def _doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(USER.read_text())
    return doc


def _inp(doc: dict[str, Any] | None = None, **kw: Any) -> ProofInput:
    data = USER.read_bytes() if doc is None else json.dumps(doc).encode()
    return ProofInput("user_config.json", data, **kw)


def _flip_b64(text: str) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[-1] ^= 1
    return base64.b64encode(bytes(raw)).decode()


def _b64(value: int) -> str:
    return base64.b64encode(value.to_bytes(32, "big")).decode()


def _rows() -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(BATCHES.read_text())))


def _csv(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), quoting=csv.QUOTE_ALL)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


# ----------------------------------------------------------------------------- the sample


def test_the_sample_verifies_with_n_800_detected() -> None:
    result = verify("gate", _inp())
    assert result.valid and result.root == ROOT
    assert result.details["asset_count"] == 800 and result.details["variant"] == "N=800"
    assert result.details["asset_count_source"] == "detected"
    assert result.balances == {"110.equity": "29774", "110.debt": "0"}
    assert result.details["total_equity"] == "1737312900000000"
    assert any("N=800" in check for check in result.checks)
    assert result.totals == {}  # a path carries no totals: the sums live in the circuit


def test_given_asset_count_is_used_and_reported() -> None:
    result = verify("gate", _inp(assets=800))
    assert result.details["asset_count_source"] == "--assets"
    with pytest.raises(InvalidProof) as err:
        verify("gate", _inp(assets=350))
    assert err.value.check == "root hash" and "N=350" in err.value.message


@pytest.mark.parametrize("bad", [0, -1, 1 << 16 + 1])
def test_an_impossible_asset_count_is_usage(bad: int) -> None:
    with pytest.raises(UsageError, match="--assets"):
        verify("gate", _inp(assets=bad))


def test_the_batch_file_starts_from_gates_empty_tree_and_ends_at_the_users_root() -> None:
    result = verify("gate", _inp(batch_proof=BATCHES.read_bytes()))
    assert result.valid
    assert result.details["empty_tree_root"] == EMPTY_ROOT_IN_GATES_VERIFIER
    assert result.details["root_batch"] == 0 and result.details["final_root"] == ROOT
    assert any("final root" in check for check in result.checks)


def test_empty_root_reproduces_the_constant_in_gates_verifier() -> None:
    nil = poseidon_gnark((0, 0, 0, poseidon_gnark(gate.commitment_elements({}, 800))))
    assert zk_tree.hex32(zk_tree.empty_root(nil)) == EMPTY_ROOT_IN_GATES_VERIFIER


def test_packing_three_u64_per_element() -> None:
    elements = gate.commitment_elements({0: (1, 2), 1: (3, 4)}, 2)
    assert elements == [(1 << 128) + (2 << 64) + 3, 4 << 128]
    assert len(gate.commitment_elements({}, 800)) == (2 * 800 + 2) // 3


def test_published_root_through_the_registry() -> None:
    ok = verify("gate", _inp(root=ROOT.encode(), root_name="root.txt"))
    assert ok.details["root_matches"] is True
    other = "1" + ROOT[1:]
    with pytest.raises(InvalidProof) as err:
        verify("gate", _inp(root=other.encode(), root_name="root.txt"))
    assert err.value.check == "published root"


# ----------------------------------------------------------------------------- tampering


def _set(key: str, value: Any) -> Any:
    return lambda doc: doc.__setitem__(key, value)


TAMPERS = {
    "balance": lambda d: d["AssetDetails"][0].__setitem__("Equity", 29775),
    "debt": lambda d: d["AssetDetails"][0].__setitem__("Debt", 1),
    "asset entry": lambda d: d["AssetDetails"].append({"Index": 3, "Equity": 1, "Debt": 0}),
    "asset index": lambda d: d["AssetDetails"][0].__setitem__("Index", 111),
    "total equity": _set("TotalAssetEquity", 1737312900000001),
    "total debt": _set("TotalAssetDebt", 1),
    "sibling": lambda d: d["MerkleProofEncode"].__setitem__(
        5, _flip_b64(d["MerkleProofEncode"][5])
    ),
    "index": _set("Arrangement", 1),
    "id hash": lambda d: d.__setitem__("UniqueIdentification", "0" + d["UniqueIdentification"][1:]),
    "root": _set("TreeRootHash", "1" + ROOT[1:]),
}


@pytest.mark.parametrize("name", TAMPERS)
def test_a_tampered_user_file_fails_at_the_root(name: str) -> None:
    doc = _doc()
    TAMPERS[name](doc)
    with pytest.raises(InvalidProof) as err:
        verify("gate", _inp(doc))
    assert err.value.check == "root hash"
    assert "N=800" in err.value.message and "N=350" in err.value.message


def test_a_tampered_batch_start_fails_as_the_empty_tree() -> None:
    rows = _rows()
    roots = json.loads(rows[0]["account_tree_roots"])
    rows[0]["account_tree_roots"] = json.dumps([_flip_b64(roots[0]), roots[1]])
    with pytest.raises(InvalidProof) as err:
        verify("gate", _inp(batch_proof=_csv(rows)))
    assert err.value.check == "empty tree"


def test_a_tampered_batch_result_fails_its_commitment() -> None:
    rows = _rows()
    roots = json.loads(rows[0]["account_tree_roots"])
    rows[0]["account_tree_roots"] = json.dumps([roots[0], _flip_b64(roots[1])])
    with pytest.raises(InvalidProof) as err:
        verify("gate", _inp(batch_proof=_csv(rows)))
    assert err.value.check == "batch commitment"


def test_a_consistent_batch_file_without_the_users_root_fails_as_batch_root() -> None:
    rows = _rows()
    before, _after = json.loads(rows[0]["account_tree_roots"])
    assets = json.loads(rows[0]["cex_asset_list_commitments"])
    other = 12345
    rows[0]["account_tree_roots"] = json.dumps([before, _b64(other)])
    elements = [base64.b64decode(v) for v in (before, _b64(other), *assets)]
    rows[0]["batch_commitment"] = _b64(poseidon_gnark([int.from_bytes(e, "big") for e in elements]))
    result = verify("gate", _inp(batch_proof=_csv(rows)))
    assert not result.valid and result.failed_check == "batch root"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"batch_number,account_tree_roots\n0,[]\n",
        b"\xff\xfe",
        BATCHES.read_bytes().replace(b'"0"\n', b'"1"\n'),
        BATCHES.read_bytes() + BATCHES.read_bytes().splitlines(keepends=True)[1],
        BATCHES.read_bytes().replace(b"E8ydcbMXhbWubjoZ", b"E8ydcbMXhbWubjo!"),
    ],
)
def test_a_malformed_batch_file_is_named(data: bytes) -> None:
    with pytest.raises(InvalidProof) as err:
        verify("gate", _inp(batch_proof=data))
    assert err.value.check == "batch fields"


# ----------------------------------------------------------------------------- detection


def _every_sample() -> list[Path]:
    return sorted(p for p in SAMPLES.rglob("*") if p.is_file())


@pytest.mark.parametrize("path", _every_sample(), ids=lambda p: str(p.relative_to(SAMPLES)))
def test_looks_like_claims_only_gates_user_file(path: Path) -> None:
    inp = ProofInput(path.name, path.read_bytes())
    # Gate's user files: gateio/proof-of-reserves' and gatechain/gate-zkmerkle-proof's layouts
    users = {USER, *SAMPLES.glob("gate/zkmerkle_*user_config*.json")}
    assert gate.looks_like(inp) is (path in users)
    if path in users:
        assert detect(inp) == "gate"
        assert not htx_zk.looks_like(inp)


def test_a_binance_five_input_leaf_file_is_not_gate() -> None:
    """Binance's later files share the zkmerkle top-level keys but carry collateral and
    loan/margin tiers: another rule, never read as Gate."""
    doc = json.loads((SAMPLES / "gate" / "zkmerkle_user_config_7dd137b.json").read_text())
    doc["TotalCollateral"] = 0
    assert not gate.looks_like(ProofInput("b.json", json.dumps(doc).encode()))
    doc.pop("TotalCollateral")
    doc["Assets"][0]["Loan"] = 0
    assert not gate.looks_like(ProofInput("b.json", json.dumps(doc).encode()))


def test_registered_with_its_options() -> None:
    spec = FORMATS["gate"]
    assert spec.takes_batch_proof and spec.takes_assets and spec.weaknesses == gate.WEAKNESSES
    assert any("only inside the zk circuit" in w for w in spec.weaknesses)


# ----------------------------------------------------------------------------- hostile


HOSTILE = [
    ("Arrangement", "0"),
    ("Arrangement", True),
    ("Arrangement", -1),
    ("Arrangement", 1 << 28),
    ("Arrangement", 1.0),
    ("UniqueIdentification", "xyz"),
    ("UniqueIdentification", "00" * 33),
    ("UniqueIdentification", f"{FIELD:064x}"),
    ("UniqueIdentification", 5),
    ("TotalAssetEquity", "1737312900000000"),
    ("TotalAssetEquity", 10**80),
    ("TotalAssetEquity", None),
    ("TotalAssetDebt", 0.5),
    ("AssetDetails", {"Index": 110}),
    ("AssetDetails", [{"Index": 110, "Equity": -1, "Debt": 0}]),
    ("AssetDetails", [{"Index": 110, "Equity": 1 << 64, "Debt": 0}]),
    ("AssetDetails", [{"Index": 110, "Equity": 1}]),
    ("AssetDetails", [{"Equity": 1, "Debt": 0}]),
    ("AssetDetails", [{"Index": 1 << 16, "Equity": 1, "Debt": 0}]),
    ("AssetDetails", [{"Index": 1, "Equity": 1, "Debt": 0}, {"Index": 1, "Equity": 1, "Debt": 0}]),
    ("AssetDetails", ["x"]),
    ("TreeRootHash", ROOT[:-2]),
    ("TreeRootHash", "0x" + ROOT[2:]),
    ("MerkleProofEncode", []),
    ("MerkleProofEncode", "KFOq270G3rXWoTidI6if9HZYqvSkWyh+z9Yt8ZK9kaQ="),
    ("MerkleProofEncode", ["not base64!"] * 28),
    ("MerkleProofEncode", [_b64(FIELD)] * 28),
    ("MerkleProofEncode", [base64.b64encode(b"\x01" * 31).decode()] * 28),
]


@pytest.mark.parametrize(("key", "value"), HOSTILE, ids=lambda v: repr(v)[:30])
def test_hostile_values_are_refused_by_name(key: str, value: Any) -> None:
    doc = _doc()
    doc[key] = value
    with pytest.raises(InvalidProof) as err:
        verify("gate", _inp(doc))
    assert err.value.check == "fields" and key in err.value.message


@pytest.mark.parametrize("key", list(_doc()))
def test_a_missing_key_is_named(key: str) -> None:
    doc = _doc()
    del doc[key]
    with pytest.raises(InvalidProof) as err:
        gate.verify(_inp(doc))
    assert err.value.check == "fields" and key in err.value.message


def test_an_asset_index_beyond_every_known_count_is_reported_per_count() -> None:
    doc = _doc()
    doc["AssetDetails"] = [{"Index": 900, "Equity": 1, "Debt": 0}]
    with pytest.raises(InvalidProof) as err:
        verify("gate", _inp(doc))
    assert err.value.check == "root hash" and "does not fit" in err.value.message


def test_not_json_is_named() -> None:
    with pytest.raises((InvalidProof, InputError)):
        verify("gate", ProofInput("user_config.json", b"{"))


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=70),
    lambda inner: st.lists(inner, max_size=30) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=40,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(sorted(_doc())), value=_JSON)
def test_any_value_in_any_field_is_a_named_failure_or_the_same_proof(key: str, value: Any) -> None:
    doc = _doc()
    doc[key] = value
    try:
        result = verify("gate", _inp(doc))
    except (InvalidProof, UsageError) as exc:
        assert exc.message
        return
    assert result.root == ROOT and result.balances == verify("gate", _inp()).balances
