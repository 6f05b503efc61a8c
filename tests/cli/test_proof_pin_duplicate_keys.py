"""A pinned root document with a key twice is refused (exit 3, naming the key).

An outside tester put {"commitment": "000…0", …, "commitment": "<real>"} in root.json:
the lenient JSON reader kept the last value, so `por liabilities proof --root` and `por
verify-proof --root` accepted a document whose first reading says another tree. The pin
is read like the attestation and the site files: duplicate keys refused."""

from __future__ import annotations

import json

import pytest


def _doubled_commitment(tree, tmp_path):
    """root.json text with a zero "commitment" first and the real one after it."""
    text = (tree / "root.json").read_text()
    assert text.count('"commitment"') == 1
    doubled = text.replace('"commitment"', '"commitment": "' + "0" * 64 + '", "commitment"', 1)
    json.loads(doubled)  # still JSON: the lenient reader would take the last value
    path = tmp_path / "doubled-root.json"
    path.write_text(doubled)
    return path


@pytest.mark.parametrize("as_json", [False, True])
def test_liabilities_proof_refuses_a_root_with_a_key_twice(por, built, tmp_path, as_json):
    root = _doubled_commitment(built, tmp_path)
    out = tmp_path / "alice.json"
    flags = ("--json",) if as_json else ()
    res = por("liabilities", "proof", built, "alice", "--root", root, "-o", out, *flags)
    assert res.rc == 3, res.err
    assert "'commitment' twice" in " ".join(res.err.split())
    assert str(root) in " ".join(res.err.split())
    assert not out.exists()
    if as_json:
        assert "'commitment' twice" in res.json()["message"]


def test_verify_proof_refuses_a_root_with_a_key_twice(por, built, tmp_path):
    proof = tmp_path / "alice.json"
    assert por("liabilities", "proof", built, "alice", "-o", proof).rc == 0
    assert por("verify-proof", proof, "--root", built / "root.json").rc == 0
    res = por("verify-proof", proof, "--root", _doubled_commitment(built, tmp_path))
    assert res.rc == 3, res.err
    assert "'commitment' twice" in " ".join(res.err.split())
