"""`por liabilities audit`: a good tree passes with its totals; any tampered byte fails (exit 3)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

SAMPLE_TOTALS = {
    "BTC": "22.50000001",
    "ETH": "340282366922.938463463374607432",
    "USDT": "12345778.623456",
}
SAMPLE_TOTALS_BASE = {
    "BTC": "2250000001",
    "ETH": "340282366922938463463374607432",
    "USDT": "12345778623456",
}
RECORD = 32 + 16 * 3  # hash + 3 sums


def flip(path: Path, offset: int, mask: int = 0x01) -> bytes:
    data = path.read_bytes()
    changed = bytearray(data)
    changed[offset] ^= mask
    path.write_bytes(bytes(changed))
    return data


def test_audit_ok_json(por, built):
    res = por("liabilities", "audit", built, "--json")
    assert res.rc == 0, res.err
    doc = res.json()
    assert doc["valid"] is True
    assert doc["attestation_id"] == "att-2025-06"
    assert doc["accounts"] == 5
    assert doc["leaves"] == 5
    assert doc["padding"] == 3
    assert doc["height"] == 3
    assert doc["totals"] == SAMPLE_TOTALS
    assert doc["totals_base_units"] == SAMPLE_TOTALS_BASE
    assert doc["leaves_recomputed"] is True
    assert doc["commitment"] == json.loads((built / "root.json").read_text())["commitment"]
    checks = " ".join(doc["checks"])
    for word in ("commitment", "padding", "2**128", "root"):
        assert word in checks


def test_audit_ok_text(por, built):
    res = por("liabilities", "audit", built)
    assert res.rc == 0
    text = " ".join(res.out.split())
    assert "OK" in text
    for total in SAMPLE_TOTALS.values():
        assert total in text


def test_audit_with_split_and_negative_exclude(por, inputs, tmp_path):
    src = tmp_path / "in" / "x.csv"
    src.write_text("account_id,asset,amount\na,BTC,1\nb,BTC,-1\nc,ETH,0.5\nc,USDT,3\n")
    tree = tmp_path / "tree"
    assert (
        por(
            "liabilities",
            "build",
            src,
            "--assets",
            inputs["assets.toml"],
            "--attestation-id",
            "x",
            "--out",
            tree,
            "--split",
            "5",
            "--negative",
            "exclude",
        ).rc
        == 0
    )
    res = por("liabilities", "audit", tree, "--json")
    assert res.rc == 0, res.err
    assert res.json()["leaves"] == 10
    assert res.json()["totals"] == {"BTC": "1", "ETH": "0.5", "USDT": "3"}


def test_audit_with_a_missing_secret_fails_naming_it(por, built, tmp_path):
    (built / "secret.key").rename(tmp_path / "away.key")
    res = por("liabilities", "audit", built, "--json")
    assert res.rc == 3
    assert "secret.key" in res.err_flat and "not found" in res.err_flat
    assert "--no-secret" in por("liabilities", "audit", "--help").out


def test_audit_without_the_secret_still_checks_the_nodes(por, built, tmp_path):
    (built / "secret.key").rename(tmp_path / "away.key")
    res = por("liabilities", "audit", built, "--no-secret", "--json")
    assert res.rc == 0, res.err
    assert res.json()["leaves_recomputed"] is False
    # a changed leaf sum is still caught by recomputing the level above
    flip(built / "tree" / "level-00.bin", RECORD - 1)
    res = por("liabilities", "audit", built, "--no-secret")
    assert res.rc == 3


def test_audit_no_secret_does_not_read_a_present_secret(por, built):
    (built / "secret.key").write_text("not hex\n")
    assert por("liabilities", "audit", built).rc == 3
    res = por("liabilities", "audit", built, "--no-secret", "--json")
    assert res.rc == 0, res.err
    assert res.json()["leaves_recomputed"] is False
    assert por("liabilities", "audit", built, "--no-secret", "--secret-file", "x").rc == 2


def test_audit_with_an_explicit_missing_secret_fails(por, built, tmp_path):
    res = por("liabilities", "audit", built, "--secret-file", tmp_path / "nope.key")
    assert res.rc == 3


def test_audit_not_a_tree(por, tmp_path):
    assert por("liabilities", "audit", tmp_path).rc == 3


# ----------------------------------------------------------------------------- tampering


TAMPER_SPOTS = [
    # (file, offset: int or callable(size) -> offset, what)
    ("level-00.bin", 0, "first leaf hash"),
    ("level-00.bin", 32 + 15, "first leaf, BTC sum low byte"),
    ("level-00.bin", 3 * RECORD + 40, "a leaf, ETH sum"),
    ("level-00.bin", -1, "last leaf, last sum byte"),
    ("level-01.bin", 5, "level 1 node hash"),
    ("level-01.bin", 32 + 16 * 2 + 15, "level 1 node sum"),
    ("level-02.bin", RECORD + 1, "level 2 node hash"),
    ("level-03.bin", 0, "root record hash"),
    ("level-03.bin", RECORD - 1, "root record sum"),
    ("positions.bin", 0, "shuffle, first entry"),
    ("positions.bin", 8 * 3, "shuffle, fourth entry"),
    ("positions.bin", 7, "shuffle, high byte"),
    ("index.bin", 0, "index, account hash"),
    ("index.bin", 31, "index, account hash last byte"),
    ("index.bin", 32, "index, row"),
    ("index.bin", 40, "index, leaf position low byte"),
    ("index.bin", 45, "index, leaf position high byte"),
    ("index.bin", 48 + 47, "index, second record, position top byte"),
]


@pytest.mark.parametrize(("name", "offset", "what"), TAMPER_SPOTS, ids=[t[2] for t in TAMPER_SPOTS])
@pytest.mark.parametrize("mask", [0x01, 0x80])
def test_audit_detects_tampered_tree_file(por, built, name, offset, what, mask):
    path = built / "tree" / name
    size = path.stat().st_size
    flip(path, offset % size, mask)
    res = por("liabilities", "audit", built, "--json")
    assert res.rc == 3, f"{what}: {res.out}"
    assert res.json()["valid"] is False
    res = por("liabilities", "audit", built)
    assert res.rc == 3
    assert "INVALID" in res.err or "invalid" in res.err


@pytest.mark.parametrize(
    "name",
    ["level-00.bin", "level-01.bin", "level-02.bin", "level-03.bin", "positions.bin", "index.bin"],
)
def test_audit_detects_every_flipped_byte(por, built, name):
    path = built / "tree" / name
    original = path.read_bytes()
    missed, crashed = [], []
    for offset in range(len(original)):
        changed = bytearray(original)
        changed[offset] ^= 0x01
        path.write_bytes(bytes(changed))
        try:
            rc = por("liabilities", "audit", built).rc
        except Exception as exc:  # report every crash, not just the first
            crashed.append((offset, type(exc).__name__))
            continue
        if rc != 3:
            missed.append((offset, rc))
    path.write_bytes(original)
    assert por("liabilities", "audit", built).rc == 0
    assert not crashed, f"{name}: audit raised instead of exiting 3 at offsets {crashed[:8]}"
    assert not missed, f"{name}: tampering not detected at offsets {missed[:8]}"


def test_audit_detects_every_flipped_byte_of_root_json(por, built):
    path = built / "root.json"
    original = path.read_bytes()
    missed = []
    for offset in range(len(original)):
        changed = bytearray(original)
        changed[offset] ^= 0x01
        path.write_bytes(bytes(changed))
        rc = por("liabilities", "audit", built).rc
        if rc != 3:
            missed.append((offset, chr(original[offset]), rc))
    path.write_bytes(original)
    assert not missed, f"root.json tampering not detected: {missed[:8]}"


@pytest.mark.parametrize(
    "edit",
    ["commitment", "sum", "hash", "height", "as_of", "attestation_id", "decimals", "add_asset"],
)
def test_audit_detects_edited_root_json(por, built, edit):
    path = built / "root.json"
    doc = json.loads(path.read_text())
    if edit == "commitment":
        doc["commitment"] = "0" * 64
    elif edit == "sum":
        doc["root"]["sums"][1] = str(int(doc["root"]["sums"][1]) - 1)
    elif edit == "hash":
        doc["root"]["hash"] = "ab" * 32
    elif edit == "height":
        doc["height"] = 4
    elif edit == "as_of":
        doc["as_of"] = "2020-01-01T00:00:00Z"
    elif edit == "attestation_id":
        doc["attestation_id"] = "other"
    elif edit == "decimals":
        doc["assets"][0]["decimals"] = 6
    elif edit == "add_asset":
        doc["assets"].append({"code": "ZZZ", "decimals": 2})
        doc["root"]["sums"].append("0")
    path.write_text(json.dumps(doc, indent=2))
    res = por("liabilities", "audit", built)
    assert res.rc == 3


def test_audit_detects_swapped_leaves(por, built):
    """Two whole leaf records swapped (and positions.bin kept consistent) must not pass."""
    tree = built / "tree"
    level0 = bytearray((tree / "level-00.bin").read_bytes())
    a, b = level0[:RECORD], level0[RECORD : 2 * RECORD]
    level0[:RECORD], level0[RECORD : 2 * RECORD] = b, a
    (tree / "level-00.bin").write_bytes(bytes(level0))
    res = por("liabilities", "audit", built)
    assert res.rc == 3


def test_audit_detects_consistently_swapped_positions(por, built):
    tree = built / "tree"
    perm = np.fromfile(tree / "positions.bin", dtype="<u8")
    perm[[0, 1]] = perm[[1, 0]]
    perm.tofile(tree / "positions.bin")
    assert por("liabilities", "audit", built).rc == 3


@pytest.mark.parametrize("name", ["level-00.bin", "level-02.bin", "positions.bin", "index.bin"])
def test_audit_detects_truncated_file(por, built, name):
    path = built / "tree" / name
    path.write_bytes(path.read_bytes()[:-1])
    assert por("liabilities", "audit", built).rc == 3


@pytest.mark.parametrize("name", ["level-01.bin", "positions.bin", "index.bin"])
def test_audit_detects_extended_file(por, built, name):
    path = built / "tree" / name
    path.write_bytes(path.read_bytes() + b"\x00" * 8)
    assert por("liabilities", "audit", built).rc == 3


def test_audit_of_corrupt_meta_json_is_an_error_not_a_crash(por, built):
    meta = built / "tree" / "meta.json"
    doc = json.loads(meta.read_text())
    del doc["as_of"]
    meta.write_text(json.dumps(doc))
    assert por("liabilities", "audit", built).rc == 3
    assert por("liabilities", "proof", built, "alice").rc == 3
