"""Trees of earlier releases still audit: their leaves are in the Philox ``shuffle`` order and
their meta.json has no ``leaf_order`` key (attestations.build.LEAF_ORDERS).

A tree whose root an exchange has already published must not turn "INVALID secret" when the
auditor upgrades por (an outside tester found exactly that). fixtures/legacy-tree/ was built
by the release before the salt order.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from attestations.audit import audit_tree
from attestations.build import legacy_leaf_shuffle
from attestations.store import TreeStore
from verifier.base.errors import InvalidProof

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "legacy-tree"
_MM = Path(__file__).resolve().parents[1] / "conformance" / "minimal_mst.py"
_spec = importlib.util.spec_from_file_location("_legacy_minimal_mst", _MM)
assert _spec is not None and _spec.loader is not None
mm = importlib.util.module_from_spec(_spec)
sys.modules["_legacy_minimal_mst"] = mm
_spec.loader.exec_module(mm)


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    shutil.copytree(FIXTURE / "tree", tree)
    os.chmod(tree / "secret.key", 0o600)
    return tree


def test_a_tree_of_the_earlier_release_audits_with_its_secret(legacy: Path) -> None:
    assert "leaf_order" not in json.loads((legacy / "tree" / "meta.json").read_text())
    result = audit_tree(legacy, require_secret=True)
    assert any("Philox shuffle" in c for c in result.checks)


def test_its_proofs_still_verify(legacy: Path) -> None:
    root = json.loads((legacy / "root.json").read_text())
    with TreeStore(legacy) as store:
        _, text = store.checked_proof("acct-7")
    # acct-7 owes 0.07 BTC and 1.7 ETH (fixtures/legacy-tree/l.csv)
    assert mm.verify(json.loads(text), root_document=root) == {
        "BTC": 7_000_000,
        "ETH": 1_700_000_000_000_000_000,
    }


def test_the_declared_order_is_what_the_audit_derives(legacy: Path) -> None:
    meta_path = legacy / "tree" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["leaf_order"] = "salt"  # a shuffle tree declared a salt tree: the order is wrong
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(InvalidProof, match="leaf order"):
        audit_tree(legacy, require_secret=True)
    meta["leaf_order"] = "zigzag"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(InvalidProof, match="leaf_order"):
        audit_tree(legacy)


def test_legacy_shuffle_is_a_permutation_fixed_by_the_secret() -> None:
    a = legacy_leaf_shuffle(b"\x01" * 32, 16)
    assert sorted(a.tolist()) == list(range(16))
    assert np.array_equal(a, legacy_leaf_shuffle(b"\x01" * 32, 16))
    assert not np.array_equal(a, legacy_leaf_shuffle(b"\x02" * 32, 16))
