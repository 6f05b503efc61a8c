"""`por liabilities proof` (one account, -o, --all) and `por verify-proof` end to end."""

from __future__ import annotations

import copy
import csv
import hashlib
import json
import stat
from pathlib import Path

import pytest

AS_OF = "2025-06-30T00:00:00Z"
SAMPLE_WHOLE = {
    "alice": {"BTC": "1.5", "ETH": "2.000000000000000001", "USDT": "100"},
    "bob": {"BTC": "0.00000001", "ETH": "0", "USDT": "0.5"},
    "carol": {"BTC": "0", "ETH": "340282366920.938463463374607431", "USDT": "0"},
    "dave": {"BTC": "0", "ETH": "0", "USDT": "12345678.123456"},
    "erin": {"BTC": "21", "ETH": "0", "USDT": "0"},
}
SAMPLE_BASE_UNITS = {
    "alice": {"BTC": "150000000", "ETH": "2000000000000000001", "USDT": "100000000"},
    "bob": {"BTC": "1", "ETH": "0", "USDT": "500000"},
    "carol": {"BTC": "0", "ETH": "340282366920938463463374607431", "USDT": "0"},
    "dave": {"BTC": "0", "ETH": "0", "USDT": "12345678123456"},
    "erin": {"BTC": "2100000000", "ETH": "0", "USDT": "0"},
}


@pytest.fixture
def proof_of(por, built, tmp_path):
    """proof_of(account) -> path of that account's proof file, cut from the built tree."""

    def cut(account: str) -> Path:
        path = tmp_path / "proofs" / f"{account}.json"
        res = por("liabilities", "proof", built, account, "-o", path)
        assert res.rc == 0, res.err
        return path

    return cut


def commitment_of(tree: Path) -> str:
    return json.loads((tree / "root.json").read_text())["commitment"]


# ----------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("account", sorted(SAMPLE_WHOLE))
def test_round_trip_with_root(por, built, proof_of, account):
    proof = proof_of(account)
    res = por("verify-proof", proof, "--root", built / "root.json", "--json")
    assert res.rc == 0, res.err
    doc = res.json()
    assert doc["valid"] is True
    assert doc["account_id"] == account
    assert doc["attestation_id"] == "att-2025-06"
    assert doc["as_of"] == AS_OF
    assert doc["commitment"] == commitment_of(built)
    assert doc["balances"] == SAMPLE_WHOLE[account]
    assert doc["balances_base_units"] == SAMPLE_BASE_UNITS[account]
    assert any("published root" in check for check in doc["checks"])
    assert len(doc["checks"]) >= 4


@pytest.mark.parametrize("account", sorted(SAMPLE_WHOLE))
def test_round_trip_with_commitment(por, built, proof_of, account):
    proof = proof_of(account)
    res = por("verify-proof", proof, "--commitment", commitment_of(built), "--json")
    assert res.rc == 0, res.err
    assert res.json()["balances"] == SAMPLE_WHOLE[account]
    assert any("published commitment" in check for check in res.json()["checks"])


def test_commitment_is_case_insensitive(por, built, proof_of):
    res = por("verify-proof", proof_of("bob"), "--commitment", commitment_of(built).upper())
    assert res.rc == 0, res.err


def test_verify_text_output(por, built, proof_of):
    res = por("verify-proof", proof_of("carol"), "--root", built / "root.json")
    assert res.rc == 0
    text = " ".join(res.out.split())
    assert "VALID" in text
    assert "carol" in text
    assert "340282366920.938463463374607431" in text
    assert "att-2025-06" in text
    assert "checked" in text
    assert "commitment" in text


def test_verify_without_published_root_warns(por, proof_of):
    res = por("verify-proof", proof_of("alice"), "--json")
    assert res.rc == 0
    assert any("no published root" in w for w in res.json()["warnings"])


def test_proof_to_stdout_is_the_proof_document(por, built, proof_of):
    res = por("liabilities", "proof", built, "dave")
    assert res.rc == 0
    doc = json.loads(res.out)
    assert doc == json.loads(proof_of("dave").read_text())
    assert doc["format"] == "por-mst-v1"
    assert doc["account_id"] == "dave"
    assert doc["height"] == 3
    (leaf,) = doc["leaves"]
    assert len(leaf["path"]) == 3
    assert 0 <= leaf["index"] < 8
    assert leaf["balances"] == ["0", "0", "12345678123456"]
    assert len(leaf["salt"]) == 64


def test_proof_file_is_private(por, proof_of):
    assert stat.S_IMODE(proof_of("erin").stat().st_mode) == 0o600


def test_proof_does_not_carry_the_master_secret(por, built, proof_of):
    secret = (built / "secret.key").read_text().strip()
    assert secret not in proof_of("alice").read_text()


# ----------------------------------------------------------------------------- failures


def test_wrong_commitment(por, built, proof_of):
    good = commitment_of(built)
    wrong = ("0" if good[0] != "0" else "1") + good[1:]
    res = por("verify-proof", proof_of("alice"), "--commitment", wrong)
    assert res.rc == 3
    assert "INVALID" in res.err
    assert "commitment" in res.err_flat
    res = por("verify-proof", proof_of("alice"), "--commitment", wrong, "--json")
    assert res.rc == 3
    assert res.json()["valid"] is False
    assert res.json()["check"] == "published commitment"


@pytest.mark.parametrize("value", ["xyz", "00" * 31, "00" * 33, ""])
def test_malformed_commitment_argument(por, proof_of, value):
    res = por("verify-proof", proof_of("alice"), "--commitment", value)
    assert res.rc in (2, 3)


def test_root_and_commitment_together_is_usage(por, built, proof_of):
    res = por(
        "verify-proof",
        proof_of("alice"),
        "--root",
        built / "root.json",
        "--commitment",
        commitment_of(built),
    )
    assert res.rc == 2


def test_proof_for_another_attestation_fails_against_that_root(
    por, inputs, built, proof_of, tmp_path
):
    other = tmp_path / "other"
    res = por(
        "liabilities",
        "build",
        inputs["sample.csv"],
        "--assets",
        inputs["assets.toml"],
        "--attestation-id",
        "att-2025-07",
        "--out",
        other,
        "--as-of",
        AS_OF,
        "--secret-file",
        built / "secret.key",
    )
    assert res.rc == 0, res.err
    proof = proof_of("alice")
    res = por("verify-proof", proof, "--root", other / "root.json", "--json")
    assert res.rc == 3
    assert res.json()["valid"] is False
    assert "another attestation" in res.json()["message"]
    res = por("verify-proof", proof, "--commitment", commitment_of(other))
    assert res.rc == 3
    assert "INVALID" in res.err
    # and a proof of the other tree fails against ours
    theirs = tmp_path / "theirs.json"
    assert por("liabilities", "proof", other, "alice", "-o", theirs).rc == 0
    assert por("verify-proof", theirs, "--root", other / "root.json").rc == 0
    assert por("verify-proof", theirs, "--root", built / "root.json").rc == 3


def test_proof_against_a_root_with_another_as_of(por, built, proof_of, tmp_path):
    root = json.loads((built / "root.json").read_text())
    root["as_of"] = "2024-01-01T00:00:00Z"
    fake = tmp_path / "root-fake.json"
    fake.write_text(json.dumps(root))
    res = por("verify-proof", proof_of("alice"), "--root", fake)
    assert res.rc == 3
    assert "INVALID" in res.err


def test_root_document_whose_commitment_does_not_recompute(por, built, proof_of, tmp_path):
    """A root.json whose sums were edited (commitment left alone) must not vouch for a proof."""
    proof = json.loads(proof_of("alice").read_text())
    root = json.loads((built / "root.json").read_text())
    root["root"]["sums"][0] = str(int(root["root"]["sums"][0]) + 1)
    proof["root"] = root["root"]
    fake_root, fake_proof = tmp_path / "root-fake.json", tmp_path / "proof-fake.json"
    fake_root.write_text(json.dumps(root))
    fake_proof.write_text(json.dumps(proof))
    assert por("verify-proof", fake_proof, "--root", fake_root).rc == 3


def _first_nonzero(sums):
    return next(i for i, s in enumerate(sums) if int(s) > 0)


def _tamper_balance(doc):
    doc["leaves"][0]["balances"][0] = str(int(doc["leaves"][0]["balances"][0]) + 1)


def _tamper_maxwell(doc):
    """Raise the leaf's balance by x and lower the sibling's sum by x: the parent's total is
    unchanged, only hashing both children's sums catches it."""
    leaf = doc["leaves"][0]
    sibling = next(node for node in leaf["path"] if any(int(s) for s in node["sums"]))
    a = _first_nonzero(sibling["sums"])
    x = int(sibling["sums"][a])
    sibling["sums"][a] = "0"
    leaf["balances"][a] = str(int(leaf["balances"][a]) + x)


def _tamper_salt(doc):
    salt = doc["leaves"][0]["salt"]
    doc["leaves"][0]["salt"] = ("1" if salt[0] == "0" else "0") + salt[1:]


def _tamper_path_hash(doc):
    h = doc["leaves"][0]["path"][1]["hash"]
    doc["leaves"][0]["path"][1]["hash"] = h[:-1] + ("1" if h[-1] == "0" else "0")


def _tamper_path_sum(doc):
    doc["leaves"][0]["path"][2]["sums"][1] = str(int(doc["leaves"][0]["path"][2]["sums"][1]) + 1)


def _tamper_index(doc):
    doc["leaves"][0]["index"] ^= 1


def _tamper_account(doc):
    doc["account_id"] = "bob"


def _tamper_commitment(doc):
    c = doc["commitment"]
    doc["commitment"] = c[:10] + ("a" if c[10] != "a" else "b") + c[11:]


def _tamper_root_hash(doc):
    h = doc["root"]["hash"]
    doc["root"]["hash"] = ("f" if h[0] != "f" else "e") + h[1:]


def _tamper_root_sums(doc):
    doc["root"]["sums"][2] = str(int(doc["root"]["sums"][2]) + 1)


def _tamper_attestation(doc):
    doc["attestation_id"] = "att-2025-07"


def _tamper_decimals(doc):
    doc["assets"][0]["decimals"] = 6


def _tamper_relabel(doc):
    doc["assets"][0]["code"], doc["assets"][1]["code"] = (
        doc["assets"][1]["code"],
        doc["assets"][0]["code"],
    )


def _tamper_height(doc):
    doc["height"] = 2
    doc["leaves"][0]["path"].pop()


def _tamper_drop_path(doc):
    doc["leaves"][0]["path"].pop()


def _tamper_format(doc):
    doc["format"] = "por-mst-v2"


def _tamper_negative(doc):
    doc["leaves"][0]["balances"][1] = "-1"


def _tamper_overflow(doc):
    doc["leaves"][0]["balances"][1] = str(2**128)


def _tamper_no_leaves(doc):
    doc["leaves"] = []


def _tamper_duplicate_leaf(doc):
    doc["leaves"].append(copy.deepcopy(doc["leaves"][0]))


TAMPERS = {
    f.__name__[len("_tamper_") :]: f
    for f in (
        _tamper_balance,
        _tamper_maxwell,
        _tamper_salt,
        _tamper_path_hash,
        _tamper_path_sum,
        _tamper_index,
        _tamper_account,
        _tamper_commitment,
        _tamper_root_hash,
        _tamper_root_sums,
        _tamper_attestation,
        _tamper_decimals,
        _tamper_relabel,
        _tamper_height,
        _tamper_drop_path,
        _tamper_format,
        _tamper_negative,
        _tamper_overflow,
        _tamper_no_leaves,
        _tamper_duplicate_leaf,
    )
}


@pytest.mark.parametrize("name", sorted(TAMPERS))
@pytest.mark.parametrize("against", ["none", "root", "commitment"])
def test_tampered_proof_is_invalid(por, built, proof_of, tmp_path, name, against):
    doc = json.loads(proof_of("alice").read_text())
    TAMPERS[name](doc)
    bad = tmp_path / "tampered.json"
    bad.write_text(json.dumps(doc))
    extra = {
        "none": (),
        "root": ("--root", built / "root.json"),
        "commitment": ("--commitment", commitment_of(built)),
    }[against]
    res = por("verify-proof", bad, *extra)
    assert res.rc == 3, res.out
    assert "INVALID" in res.err
    assert "VALID" not in res.out
    res = por("verify-proof", bad, *extra, "--json")
    assert res.rc == 3
    assert res.json()["valid"] is False


def test_tampered_byte_in_proof_file(por, built, proof_of, tmp_path):
    """Any single changed digit of a balance, salt or path entry in the file fails."""
    text = proof_of("alice").read_text()
    doc = json.loads(text)
    needle = doc["leaves"][0]["path"][0]["hash"]
    pos = text.index(needle) + 5
    bad = tmp_path / "bad.json"
    bad.write_text(text[:pos] + ("0" if text[pos] != "0" else "1") + text[pos + 1 :])
    res = por("verify-proof", bad, "--root", built / "root.json")
    assert res.rc == 3
    assert "INVALID" in res.err


@pytest.mark.parametrize("content", ["", "{not json", "[]", '"proof"', "{}"])
def test_garbage_proof_file(por, tmp_path, content):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    res = por("verify-proof", bad)
    assert res.rc == 3
    assert str(bad) in res.err_flat or "INVALID" in res.err


def test_missing_proof_file(por, tmp_path):
    res = por("verify-proof", tmp_path / "nope.json")
    assert res.rc == 3
    assert "nope.json" in res.err_flat


def test_unknown_keys_are_reported_not_trusted(por, built, proof_of, tmp_path):
    doc = json.loads(proof_of("alice").read_text())
    doc["balance_claimed"] = "1000000"
    path = tmp_path / "extra.json"
    path.write_text(json.dumps(doc))
    res = por("verify-proof", path, "--root", built / "root.json", "--json")
    assert res.rc == 0
    assert res.json()["balances"] == SAMPLE_WHOLE["alice"]
    assert any("balance_claimed" in w for w in res.json()["warnings"])


# ----------------------------------------------------------------------------- unknown account


@pytest.mark.parametrize("account", ["nobody", "Alice", "alice ", "", "../alice"])
def test_unknown_account(por, built, tmp_path, account):
    target = tmp_path / "out" / "p.json"
    res = por("liabilities", "proof", built, account, "-o", target)
    assert res.rc == 3
    assert "not found" in res.err_flat
    assert not target.exists()
    assert not target.parent.exists() or list(target.parent.iterdir()) == []
    res = por("liabilities", "proof", built, account)
    assert res.rc == 3
    assert res.out == ""


def test_proof_usage_errors(por, built, tmp_path):
    assert por("liabilities", "proof", built).rc == 2
    assert por("liabilities", "proof", built, "--all").rc == 2
    assert por("liabilities", "proof", built, "alice", "--all", "--out-dir", tmp_path / "d").rc == 2
    assert not (tmp_path / "d").exists()


def test_proof_from_a_directory_that_is_not_a_tree(por, tmp_path):
    res = por("liabilities", "proof", tmp_path, "alice")
    assert res.rc == 3
    assert "not a tree directory" in res.err_flat


def test_proof_with_missing_secret(por, built, tmp_path):
    moved = tmp_path / "elsewhere.key"
    (built / "secret.key").rename(moved)
    res = por("liabilities", "proof", built, "alice", "-o", tmp_path / "p.json")
    assert res.rc == 3
    assert not (tmp_path / "p.json").exists()
    res = por(
        "liabilities", "proof", built, "alice", "-o", tmp_path / "p.json", "--secret-file", moved
    )
    assert res.rc == 0, res.err
    assert por("verify-proof", tmp_path / "p.json", "--root", built / "root.json").rc == 0


# ----------------------------------------------------------------------------- --all


def _manifest(out_dir: Path) -> list[dict[str, str]]:
    with (out_dir / "manifest.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_all_proofs(por, built, tmp_path):
    out = tmp_path / "all"
    res = por("liabilities", "proof", built, "--all", "--out-dir", out)
    assert res.rc == 0, res.err
    files = sorted(p.name for p in out.iterdir())
    assert "manifest.csv" in files
    proofs = [f for f in files if f != "manifest.csv"]
    assert len(proofs) == 5
    rows = _manifest(out)
    assert len(rows) == 5
    assert sorted(r["file"] for r in rows) == sorted(proofs)
    seen = {}
    for name in proofs:
        path = out / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        doc = json.loads(path.read_text())
        res = por("verify-proof", path, "--root", built / "root.json", "--json")
        assert res.rc == 0, res.err
        seen[doc["account_id"]] = res.json()["balances"]
        # --all and the single-account command give the same proof
        single = por("liabilities", "proof", built, doc["account_id"])
        assert json.loads(single.out) == doc
    assert seen == SAMPLE_WHOLE


def test_all_manifest_column_matches_its_name(por, built, tmp_path):
    """manifest.csv's first column is named account_id_sha256_hex: its values must be what the
    name says (SHA-256 of the account id), or the column must be named for what it holds."""
    out = tmp_path / "all"
    assert por("liabilities", "proof", built, "--all", "--out-dir", out).rc == 0
    rows = _manifest(out)
    key = next(iter(rows[0]))
    for r in rows:
        account = json.loads((out / r["file"]).read_text())["account_id"]
        if "sha256" in key:
            assert r[key] in {
                hashlib.sha256(account.encode()).hexdigest(),
                hashlib.sha256(b"\x04" + account.encode()).hexdigest(),
            }, (key, r)
        else:
            assert r[key] in {account, account.encode().hex()}, (key, r)


def test_all_with_awkward_account_ids(por, inputs, tmp_path):
    ids = [
        "a b",
        "../escape",
        "x/y",
        ".",
        "..",
        "Ünïcode",
        "dup",
        "DUP",
        "-rf",
        "manifest.csv",
        "q" * 256,
        'quo"te',
    ]
    src = tmp_path / "in" / "odd.csv"
    with src.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["account_id", "asset", "amount"])
        for i, account in enumerate(ids):
            writer.writerow([account, "BTC", f"0.{i + 1:08d}"])
    tree = tmp_path / "tree"
    res = por(
        "liabilities",
        "build",
        src,
        "--assets",
        inputs["assets.toml"],
        "--attestation-id",
        "odd",
        "--out",
        tree,
        "--as-of",
        AS_OF,
    )
    assert res.rc == 0, res.err
    out = tmp_path / "all"
    res = por("liabilities", "proof", tree, "--all", "--out-dir", out)
    assert res.rc == 0, res.err
    # nothing escaped the output directory
    assert sorted(p.name for p in tmp_path.iterdir()) == ["all", "in", "tree"]
    accounts = {}
    for path in out.iterdir():
        if path.name == "manifest.csv":
            continue
        doc = json.loads(path.read_text())
        assert por("verify-proof", path, "--root", tree / "root.json").rc == 0
        accounts[doc["account_id"]] = path.name
    assert sorted(accounts) == sorted(ids)
    assert len(set(accounts.values())) == len(ids)
    assert len(_manifest(out)) == len(ids)


def test_all_file_name_collision(por, inputs, tmp_path):
    """An unsafe id gets the file name account-<hash>.json; other, safe ids may be spelled
    exactly like that name (or like its fallback). Every account still needs its own file."""
    from attestations.encoding import account_hash

    h = account_hash("a b").hex()[:32]
    ids = [f"account-account-{h}", "a b", f"account-{h}"]
    src = tmp_path / "in" / "collide.csv"
    src.write_text("account_id,asset,amount\n" + "".join(f"{i},BTC,1\n" for i in ids))
    tree = tmp_path / "tree"
    assert (
        por(
            "liabilities",
            "build",
            src,
            "--assets",
            inputs["assets.toml"],
            "--attestation-id",
            "c",
            "--out",
            tree,
            "--as-of",
            AS_OF,
        ).rc
        == 0
    )
    out = tmp_path / "all"
    res = por("liabilities", "proof", tree, "--all", "--out-dir", out)
    assert res.rc == 0, res.err
    got = {
        json.loads(p.read_text())["account_id"] for p in out.iterdir() if p.name != "manifest.csv"
    }
    assert got == set(ids)


def test_all_refuses_non_empty_out_dir(por, built, tmp_path):
    out = tmp_path / "all"
    out.mkdir()
    (out / "x").write_text("keep")
    res = por("liabilities", "proof", built, "--all", "--out-dir", out)
    assert res.rc == 3
    assert sorted(p.name for p in out.iterdir()) == ["x"]


def test_all_into_existing_empty_dir(por, built, tmp_path):
    out = tmp_path / "all"
    out.mkdir()
    res = por("liabilities", "proof", built, "--all", "--out-dir", out, "--json")
    assert res.rc == 0, res.err
    assert res.json()["proofs"] == 5
    assert len(list(out.iterdir())) == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["all", "in", "tree"]


def test_all_with_split(por, inputs, tmp_path):
    tree = tmp_path / "tree"
    assert (
        por(
            "liabilities",
            "build",
            inputs["sample.jsonl"],
            "--assets",
            inputs["assets.toml"],
            "--attestation-id",
            "s",
            "--out",
            tree,
            "--as-of",
            AS_OF,
            "--split",
            "4",
        ).rc
        == 0
    )
    out = tmp_path / "all"
    assert por("liabilities", "proof", tree, "--all", "--out-dir", out).rc == 0
    seen = {}
    for path in out.glob("*.json"):
        doc = json.loads(path.read_text())
        assert len(doc["leaves"]) == 4
        res = por("verify-proof", path, "--commitment", commitment_of(tree), "--json")
        assert res.rc == 0, res.err
        seen[doc["account_id"]] = res.json()["balances"]
    assert seen == SAMPLE_WHOLE


def test_all_in_worker_processes_matches_single_proofs(por, tmp_path):
    """More than 4096 accounts: --all writes the proofs from forked workers; every account gets
    one file, the manifest lists them all, and the files equal the one-account command's proofs."""
    sample = tmp_path / "many.csv"
    assert (
        por(
            "liabilities",
            "sample",
            "--accounts",
            "4500",
            "--assets",
            "2",
            "--out",
            sample,
            "--seed",
            "11",
        ).rc
        == 0
    )
    tree = tmp_path / "tree"
    res = por(
        "liabilities",
        "build",
        sample,
        "--assets",
        tmp_path / "many.assets.toml",
        "--attestation-id",
        "many",
        "--out",
        tree,
        "--as-of",
        AS_OF,
        "--split",
        "2",
    )
    assert res.rc == 0, res.err
    out = tmp_path / "all"
    res = por("liabilities", "proof", tree, "--all", "--out-dir", out, "--json")
    assert res.rc == 0, res.err
    assert res.json()["proofs"] == 4500
    rows = _manifest(out)
    assert len(rows) == 4500
    files = {p.name for p in out.iterdir()} - {"manifest.csv"}
    assert files == {r["file"] for r in rows}
    for account in ("acct-00000000", "acct-00002047", "acct-00002048", "acct-00004499"):
        name = next(r["file"] for r in rows if r["file"] == f"{account}.json")
        doc = json.loads((out / name).read_text())
        assert doc["account_id"] == account
        assert json.loads(por("liabilities", "proof", tree, account).out) == doc
        assert por("verify-proof", out / name, "--root", tree / "root.json").rc == 0


@pytest.mark.parametrize("content", ["", "{bad", "[]", '{"format": "por-mst-v1"}'])
def test_bad_root_document_argument(por, proof_of, tmp_path, content):
    root = tmp_path / "root.json"
    root.write_text(content)
    res = por("verify-proof", proof_of("alice"), "--root", root)
    assert res.rc == 3
    assert "VALID" not in res.out


def test_missing_root_document_argument(por, proof_of, tmp_path):
    res = por("verify-proof", proof_of("alice"), "--root", tmp_path / "nope.json")
    assert res.rc == 3
    assert "nope.json" in res.err_flat
