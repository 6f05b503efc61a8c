"""`por liabilities proof --root FILE | --commitment HEX`: the caller pins the tree a proof
must belong to. A container (or tree) swapped for another attestation's is self-consistent,
so without a pin it hands out a proof with exit 0; with the published pin it is refused with
exit 3 naming the expected and the found commitment, and nothing is written."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import AS_OF


@pytest.fixture
def two_trees(por, inputs, built, tmp_path):
    """The sample tree and the same balances under another attestation id, each with its
    container: (tree, its container, the other tree, the other container)."""
    other = tmp_path / "other"
    res = por(
        "liabilities", "build", inputs["sample.csv"], "--assets", inputs["assets.toml"],
        "--attestation-id", "att-older", "--out", other, "--as-of", AS_OF,
    )  # fmt: skip
    assert res.rc == 0, res.err
    containers = []
    for tree in (built, other):
        out = tmp_path / f"{tree.name}.arrow"
        res = por("liabilities", "proof", "--tree", tree, "--all", "--out", out)
        assert res.rc == 0, res.err
        containers.append(out)
    return built, containers[0], other, containers[1]


def _commitment(tree):
    return json.loads((tree / "root.json").read_text())["commitment"]


def test_the_right_pin_hands_out_the_same_proof(por, two_trees, tmp_path):
    tree, container, _, _ = two_trees
    plain = por("liabilities", "proof", "--from", container, "alice")
    assert plain.rc == 0, plain.err
    for pin in (("--root", tree / "root.json"), ("--commitment", _commitment(tree))):
        res = por("liabilities", "proof", "--from", container, "alice", *pin)
        assert res.rc == 0, res.err
        assert res.out == plain.out
        from_tree = por("liabilities", "proof", tree, "alice", *pin)
        assert from_tree.rc == 0 and from_tree.out == plain.out
    upper = por("liabilities", "proof", "--from", container, "alice", "--commitment",
                f" {_commitment(tree).upper()} ")  # fmt: skip
    assert upper.rc == 0 and upper.out == plain.out
    written = tmp_path / "alice.json"
    res = por("liabilities", "proof", "--from", container, "alice", "-o", written,
              "--commitment", _commitment(tree), "--json")  # fmt: skip
    assert res.rc == 0, res.err
    assert res.json()["pinned"] == "commitment"
    assert written.read_text() == plain.out


def test_a_swapped_container_is_refused_naming_both_commitments(por, two_trees, tmp_path):
    tree, _, _, swapped = two_trees
    # the other attestation's container is self-consistent: without a pin it passes
    assert por("liabilities", "proof", "--from", swapped, "alice").rc == 0
    written = tmp_path / "alice.json"
    for pin in (("--root", tree / "root.json"), ("--commitment", _commitment(tree))):
        res = por("liabilities", "proof", "--from", swapped, "alice", *pin, "-o", written)
        assert res.rc == 3, res.err
        message = " ".join(res.err.split())
        assert str(swapped) in message
        assert _commitment(tree) in message  # expected
        assert _commitment(swapped.parent / "other") in message  # found
        assert not written.exists()
        assert por("liabilities", "proof", "--from", swapped, "alice", *pin).out == ""


def test_a_swapped_tree_directory_is_refused_too(por, two_trees):
    tree, _, other, _ = two_trees
    res = por("liabilities", "proof", other, "alice", "--root", tree / "root.json", "--json")
    assert res.rc == 3
    doc = res.json()
    assert doc["valid"] is False and _commitment(tree) in doc["message"]


def test_a_root_document_differing_only_in_as_of_is_refused(por, two_trees, tmp_path):
    """as_of is not bound by the commitment: the root document pin checks it too."""
    tree, container, _, _ = two_trees
    root = json.loads((tree / "root.json").read_text())
    root["as_of"] = "2020-01-01T00:00:00Z"
    pinned = tmp_path / "root.json"
    pinned.write_text(json.dumps(root))
    res = por("liabilities", "proof", "--from", container, "alice", "--root", pinned)
    assert res.rc == 3
    assert "as_of" in res.err


@pytest.mark.parametrize(
    ("pin", "code"),
    [
        (("--commitment", "zz"), 3),
        (("--commitment", ""), 3),
        (("--commitment", "0" * 63), 3),
        (("--commitment", "0" * 65), 3),
        (("--commitment", "9" * 5000), 3),
        (("--root", "{t}/missing.json"), 3),
        (("--root", "{t}"), 3),
        (("--root", "{t}/not-json.json"), 3),
        (("--root", "{t}/bad-root.json"), 3),
        (("--root", "{root}", "--commitment", "0" * 64), 2),
    ],
)
def test_malformed_pins(por, two_trees, tmp_path, pin, code):
    tree, container, _, _ = two_trees
    (tmp_path / "not-json.json").write_text("{")
    root = json.loads((tree / "root.json").read_text())
    (tmp_path / "bad-root.json").write_text(json.dumps({**root, "commitment": "zz"}))
    args = [str(a).format(t=tmp_path, root=tree / "root.json") for a in pin]
    res = por("liabilities", "proof", "--from", container, "alice", *args, "--json")
    assert res.rc == code, res.err
    assert "Traceback" not in res.err
    assert res.err.count("\n") == 1  # one clear message


def test_a_wrong_commitment_of_the_right_shape_is_refused(por, two_trees):
    _, container, _, _ = two_trees
    res = por("liabilities", "proof", "--from", container, "alice", "--commitment", "0" * 64)
    assert res.rc == 3
    assert "0" * 64 in res.err and res.out == ""


def test_pins_go_with_one_proof_not_all(por, built, tmp_path):
    res = por("liabilities", "proof", built, "--all", "--out", tmp_path / "p.arrow",
              "--commitment", _commitment(built))  # fmt: skip
    assert res.rc == 2
    assert not (tmp_path / "p.arrow").exists()
