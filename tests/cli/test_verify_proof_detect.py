"""`por verify-proof` without --format detects the format: a proof from `por liabilities
proof` is read as por (with --root/--commitment), each exchange's sample as its format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"
BITMEX_NONCE = "2,b88860add96111d84d38a500266df715158f91375d9aaa98aa58356f9a872412"


@pytest.fixture
def alice(por, built, tmp_path) -> Path:
    path = tmp_path / "alice.json"
    res = por("liabilities", "proof", built, "alice", "-o", path)
    assert res.rc == 0, res.err
    return path


def test_por_proof_is_detected_as_por_with_root(por, built, alice):
    res = por("verify-proof", alice, "--root", built / "root.json", "--json")
    assert res.rc == 0, res.err
    doc = res.json()
    assert doc["format"] == "por-mst-v1"
    assert doc["account_id"] == "alice"
    assert any("commitment" in check for check in doc["checks"])


def test_por_proof_is_detected_as_por_with_commitment(por, built, alice):
    commitment = json.loads((built / "root.json").read_text())["commitment"]
    res = por("verify-proof", alice, "--commitment", commitment)
    assert res.rc == 0, res.err
    assert res.out.startswith("VALID proof for account 'alice'")


def test_por_proof_alone_and_with_explicit_auto_agree(por, alice):
    default = por("verify-proof", alice, "--json")
    auto = por("verify-proof", alice, "--format", "auto", "--json")
    explicit = por("verify-proof", alice, "--format", "por", "--json")
    assert default.rc == auto.rc == explicit.rc == 0
    assert default.json() == auto.json() == explicit.json()


def test_por_proof_with_tree_is_a_usage_error(por, alice):
    res = por("verify-proof", alice, "--tree", alice)
    assert res.rc == 2
    assert "--tree and --nonce apply to other exchanges' formats" in res.err_flat


def test_damaged_por_proof_names_the_field_not_no_format(por, alice, tmp_path):
    doc = json.loads(alice.read_text())
    del doc["leaves"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    res = por("verify-proof", bad)
    assert res.rc == 3
    assert "INVALID" in res.err
    assert "no known proof format" not in res.err_flat


@pytest.mark.parametrize(
    ("sample", "fmt", "extra", "rc"),
    [
        ("okx/merkle_proof_file.json", "okx-v1", (), 0),
        ("bybit/mock_user_merkle_tree_path_40.json", "bybit", (), 0),
        ("bybit/mock_user_merkle_tree_path_40_v3.json", "bybit", (), 0),
        ("bitget/merkel_tree_bg.json", "bitget", (), 0),
        ("coinex/merkle_proof_file.json", "coinex", (), 3),  # fails its own published rule
        ("bitmex/liabilities-100-proof.csv", "bitmex", (), 0),
        ("bitmex/liabilities-100-proof.csv", "bitmex", ("--nonce", BITMEX_NONCE), 3),
        ("binance-2022/tree-level1.csv", "binance-2022", (), 0),
        ("binance-2022", "binance-2022", (), 0),
    ],
)
def test_each_sample_is_detected_as_its_format(por, sample, fmt, extra, rc):
    res = por("verify-proof", SAMPLES / sample, *extra, "--json")
    assert res.rc == rc, res.err
    doc = res.json()
    assert doc["format"] == fmt
    assert doc["detected"] is True
    explicit = por("verify-proof", SAMPLES / sample, "--format", fmt, *extra, "--json")
    assert explicit.rc == rc
    assert {k: v for k, v in doc.items() if k != "detected"} == explicit.json()


def test_okx_v2_user_file_is_detected_and_asks_for_its_tree(por):
    user = Path(__file__).resolve().parents[2] / "fixtures" / "sweep" / "okx-v2-user.json"
    res = por("verify-proof", user)
    assert res.rc == 2
    assert "okx-v2 needs --tree" in res.err_flat


def test_another_roots_file_with_an_exchanges_proof_fails_the_published_root(por, built):
    # --root applies to every format that publishes a root (issue 13): our root.json holds
    # another root, so the okx proof is refused naming the check, not as a usage error
    res = por("verify-proof", SAMPLES / "okx/merkle_proof_file.json", "--root", built / "root.json")
    assert res.rc == 3
    assert "published root" in res.out
    commitment = por(
        "verify-proof", SAMPLES / "okx/merkle_proof_file.json", "--commitment", "0" * 64
    )
    assert commitment.rc == 2
    assert "--commitment applies to por proofs" in commitment.err_flat


@pytest.mark.parametrize("sample", ["okx/test.csv", "summa/signatures.csv", "bitmex/nonces.txt"])
def test_a_file_no_format_fits_names_the_file_and_asks_for_format(por, sample):
    res = por("verify-proof", SAMPLES / sample, "--json")
    assert res.rc == 3
    assert str(SAMPLES / sample) in res.err_flat
    assert "no known proof format fits this file" in res.err_flat
    assert "give --format" in res.err_flat
    assert res.json()["error"]


def test_a_file_two_formats_fit_names_both(por, tmp_path):
    # both bybit's and coinex's shape: {"root", "self": {userHash, balance}, "path": [{}]}
    both = tmp_path / "both.json"
    both.write_text(
        json.dumps({"root": {}, "self": {"userHash": "a", "balance": {}}, "path": [{}]})
    )
    res = por("verify-proof", both)
    assert res.rc == 3
    assert "more than one proof format fits this file (bybit, coinex)" in res.err_flat
    assert str(both) in res.err_flat
