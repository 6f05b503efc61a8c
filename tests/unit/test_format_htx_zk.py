"""The `htx-zk` format: HTX's V2 zk account tree (huobiapi/Tool-Go-MerkleVerify), one user's path.

Evidence: HTX's published ``user_config.json`` (fixtures/samples/htx-zk/, from
huobiapi/Tool-Go-MerkleVerify @ bc0adce0) verifies with N = 168 detected (174, the value in
the same repository's constants.go, does not); its ``proof0.csv`` (20 batches) chains from
the empty tree and the all-zero asset list under N = 168 with every batch commitment right,
but is a different published set: the user's root is none of its results, and the result
says so (``batch root``). A batch file built here from proof0.csv's published starting point
that ends at the user's root passes. A negative balance verifies as HTX's own verifier
verifies it (``big.Int.Bytes()`` drops the sign) and is named among the weaknesses; tampered
copies fail naming the check; hostile values are refused by name.
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
from attestations.formats.poseidon import poseidon_gnark
from verifier.base.errors import EXIT_INVALID, InvalidProof, UsageError
from verifier.external.check import verify_external_proof
from verifier.external.companions import Companions

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"
USER = SAMPLES / "htx-zk" / "user_config.json"
BATCHES = SAMPLES / "htx-zk" / "proof0.csv"
ROOT = "2d56687955260b6385c0b167a96d2540d9f6f4a1982e6e5c394aebcb6f33223a"


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


def _int(text: str) -> int:
    return int.from_bytes(base64.b64decode(text), "big")


def _rows() -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(BATCHES.read_text())))


def _csv(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


# ----------------------------------------------------------------------------- the sample


def test_the_sample_verifies_with_n_168_detected() -> None:
    result = verify("htx-zk", _inp())
    assert result.valid and result.root == ROOT
    assert result.details["asset_count"] == 168 and result.details["variant"] == "N=168"
    assert result.balances == {"0": "32"}
    assert result.details["total_equity"] == "867200"
    assert any("sign" in w for w in result.weaknesses)


@pytest.mark.parametrize("count", [174, 205])
def test_the_other_published_counts_do_not_verify_the_sample(count: int) -> None:
    with pytest.raises(InvalidProof) as err:
        verify("htx-zk", _inp(assets=count))
    assert err.value.check == "root hash" and f"N={count}" in err.value.message


def test_the_published_batch_file_chains_but_is_another_set() -> None:
    result = verify("htx-zk", _inp(batch_proof=BATCHES.read_bytes()))
    # every check before passed (path under N=168, empty tree, zero asset list, the chain
    # and 20 batch commitments), and the result says what did not: an invalid result
    assert not result.valid and result.failed_check == "batch root"
    assert result.reason is not None and ROOT in result.reason
    assert result.details["batches"] == 20 and "root_batch" not in result.details
    assert any("20 batches" in check for check in result.checks)
    assert any("all-zero asset list" in check for check in result.checks)
    doc, code = verify_external_proof(USER, "htx-zk", companions=Companions(batch_proof=BATCHES))
    assert (doc["valid"], doc["check"], code) == (False, "batch root", EXIT_INVALID)


def test_the_published_start_is_the_empty_tree_under_n_168() -> None:
    first = json.loads(_rows()[0]["account_tree_roots"])[0]
    nil = poseidon_gnark((0, 0, 0, poseidon_gnark([0] * 168)))
    assert zk_tree.empty_root(nil) == _int(first)
    assets = json.loads(_rows()[0]["cex_asset_list_commitments"])[0]
    assert poseidon_gnark([0] * 168) == _int(assets)


def test_a_batch_file_ending_at_the_users_root_passes() -> None:
    row = _rows()[0]
    before = json.loads(row["account_tree_roots"])[0]
    assets = json.loads(row["cex_asset_list_commitments"])
    after = _b64(int(ROOT, 16))
    row["account_tree_roots"] = json.dumps([before, after])
    row["batch_commitment"] = _b64(poseidon_gnark([_int(v) for v in (before, after, *assets)]))
    result = verify("htx-zk", _inp(batch_proof=_csv([row])))
    assert result.valid and result.details["root_batch"] == 0
    assert any("all-zero asset list" in check for check in result.checks)


def test_a_broken_batch_chain_is_named() -> None:
    rows = _rows()
    roots = json.loads(rows[3]["account_tree_roots"])
    rows[3]["account_tree_roots"] = json.dumps([_flip_b64(roots[0]), roots[1]])
    with pytest.raises(InvalidProof) as err:
        verify("htx-zk", _inp(batch_proof=_csv(rows)))
    assert err.value.check == "batch chain" and "batch 3" in err.value.message


def test_a_tampered_batch_commitment_is_named() -> None:
    rows = _rows()
    rows[7]["batch_commitment"] = _flip_b64(rows[7]["batch_commitment"])
    with pytest.raises(InvalidProof) as err:
        verify("htx-zk", _inp(batch_proof=_csv(rows)))
    assert err.value.check == "batch commitment" and "batch 7" in err.value.message


def test_a_batch_not_starting_from_the_zero_asset_list_is_the_empty_tree_check() -> None:
    rows = _rows()
    assets = json.loads(rows[0]["cex_asset_list_commitments"])
    rows[0]["cex_asset_list_commitments"] = json.dumps([_flip_b64(assets[0]), assets[1]])
    with pytest.raises(InvalidProof) as err:
        verify("htx-zk", _inp(batch_proof=_csv(rows)))
    assert err.value.check == "empty tree" and "asset commitment" in err.value.message


# ----------------------------------------------------------------------------- the sign


def test_a_negative_balance_verifies_as_htx_verifies_it_and_is_named() -> None:
    doc = _doc()
    doc["Assets"][0]["Balance"] = -32
    result = verify("htx-zk", _inp(doc))
    assert result.valid and result.balances == {"0": "-32"}
    assert any("negative values in this proof (0)" in w for w in result.weaknesses)


# ----------------------------------------------------------------------------- tampering


def _set(key: str, value: Any) -> Any:
    return lambda doc: doc.__setitem__(key, value)


TAMPERS = {
    "balance": lambda d: d["Assets"][0].__setitem__("Balance", 33),
    "asset entry": lambda d: d["Assets"].append({"Index": 3, "Balance": 1}),
    "asset index": lambda d: d["Assets"][0].__setitem__("Index", 1),
    "total equity": _set("TotalEquity", 867201),
    "total debt": _set("TotalDebt", 1),
    "sibling": lambda d: d["Proof"].__setitem__(27, _flip_b64(d["Proof"][27])),
    "index": _set("AccountIndex", 1 << 27),
    "id hash": lambda d: d.__setitem__("AccountIdHash", "0" + d["AccountIdHash"][1:]),
    "root": _set("Root", "1" + ROOT[1:]),
}


@pytest.mark.parametrize("name", TAMPERS)
def test_a_tampered_user_file_fails_at_the_root(name: str) -> None:
    doc = _doc()
    TAMPERS[name](doc)
    with pytest.raises(InvalidProof) as err:
        verify("htx-zk", _inp(doc))
    assert err.value.check == "root hash"
    assert all(f"N={n}" in err.value.message for n in htx_zk.KNOWN_COUNTS)


# ----------------------------------------------------------------------------- detection


def _every_sample() -> list[Path]:
    return sorted(p for p in SAMPLES.rglob("*") if p.is_file())


@pytest.mark.parametrize("path", _every_sample(), ids=lambda p: str(p.relative_to(SAMPLES)))
def test_looks_like_claims_only_htxs_user_file(path: Path) -> None:
    inp = ProofInput(path.name, path.read_bytes())
    assert htx_zk.looks_like(inp) is (path == USER)
    if path == USER:
        assert detect(inp) == "htx-zk"
        assert not gate.looks_like(inp)


def test_binances_later_user_files_are_not_claimed() -> None:
    doc = _doc()
    doc["Assets"] = [{"Index": 0, "Equity": 1, "Debt": 0, "Loan": 0, "Margin": 0}]
    assert not htx_zk.looks_like(ProofInput("u.json", json.dumps(doc).encode()))


def test_registered_with_its_options() -> None:
    spec = FORMATS["htx-zk"]
    assert spec.takes_batch_proof and spec.takes_assets and spec.weaknesses == htx_zk.WEAKNESSES
    assert any("drops the sign" in w for w in spec.weaknesses)


# ----------------------------------------------------------------------------- hostile


HOSTILE = [
    ("AccountIndex", "0"),
    ("AccountIndex", False),
    ("AccountIndex", 1 << 40),
    ("AccountIdHash", "10f99e0e"),
    ("AccountIdHash", "ff" * 32),
    ("TotalEquity", "867200"),
    ("TotalEquity", -(10**90)),
    ("TotalDebt", [0]),
    ("Assets", [{"Index": 0, "Balance": 1 << 63}]),
    ("Assets", [{"Index": 0, "Balance": "32"}]),
    ("Assets", [{"Index": 0}]),
    ("Assets", [{"Index": -1, "Balance": 1}]),
    ("Assets", [{"Index": 0, "Balance": 1}, {"Index": 0, "Balance": 2}]),
    ("Assets", [None]),
    ("Root", None),
    ("Root", "zz" * 32),
    ("Proof", ["H9djvEUsd4ZN1H0DmRS5WyXRro6Qi8J286/Gg9xQHt8="] * 29),
    ("Proof", ["H9djvEUsd4ZN1H0DmRS5WyXRro6Qi8J286/Gg9xQHt8"] * 28),
    ("Proof", [{"x": 1}] * 28),
    ("Proof", {"0": "x"}),
]


@pytest.mark.parametrize(("key", "value"), HOSTILE, ids=lambda v: repr(v)[:30])
def test_hostile_values_are_refused_by_name(key: str, value: Any) -> None:
    doc = _doc()
    doc[key] = value
    with pytest.raises(InvalidProof) as err:
        verify("htx-zk", _inp(doc))
    assert err.value.check == "fields" and key in err.value.message


@pytest.mark.parametrize("key", list(_doc()))
def test_a_missing_key_is_named(key: str) -> None:
    doc = _doc()
    del doc[key]
    with pytest.raises(InvalidProof) as err:
        htx_zk.verify(_inp(doc))
    assert err.value.check == "fields" and key in err.value.message


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
        result = verify("htx-zk", _inp(doc))
    except (InvalidProof, UsageError) as exc:
        assert exc.message
        return
    assert result.root == ROOT and result.balances == verify("htx-zk", _inp()).balances
