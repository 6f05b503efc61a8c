"""End to end through `verifier.cli.main.main`: `por liabilities build`, bad input, the secret,
--split, --negative exclude, --sum-duplicates, --json, and the help texts."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import click
import pytest

from verifier.cli.main import cli

AS_OF = "2025-06-30T00:00:00Z"
# fixtures/liabilities/sample.csv in base units (asset order BTC, ETH, USDT) and totals
SAMPLE_BASE_UNITS = {
    "alice": {"BTC": "150000000", "ETH": "2000000000000000001", "USDT": "100000000"},
    "bob": {"BTC": "1", "ETH": "0", "USDT": "500000"},
    "carol": {"BTC": "0", "ETH": "340282366920938463463374607431", "USDT": "0"},
    "dave": {"BTC": "0", "ETH": "0", "USDT": "12345678123456"},
    "erin": {"BTC": "2100000000", "ETH": "0", "USDT": "0"},
}
SAMPLE_TOTALS = {
    "BTC": "22.50000001",
    "ETH": "340282366922.938463463374607432",
    "USDT": "12345778.623456",
}

HEADER = "account_id,asset,amount\n"
PUBLIC_ROOT_KEYS = {
    "format",
    "attestation_id",
    "as_of",
    "assets",
    "height",
    "root",
    "commitment",
    "excluded",
}


def build_args(input_file, assets, out, *extra, attestation="att-1"):
    return (
        "liabilities",
        "build",
        input_file,
        "--assets",
        assets,
        "--attestation-id",
        attestation,
        "--out",
        out,
        "--as-of",
        AS_OF,
        *extra,
    )


def leftovers(directory: Path, keep: set[str]) -> list[str]:
    """Names in `directory` other than `keep` (temp dirs of a failed build, say)."""
    return sorted(p.name for p in directory.iterdir() if p.name not in keep)


# ----------------------------------------------------------------------------- build: good input


@pytest.mark.parametrize("source", ["sample.csv", "sample.jsonl"])
def test_build_json_document(por, inputs, tmp_path, source):
    out = tmp_path / "tree"
    res = por(*build_args(inputs[source], inputs["assets.toml"], out, "--json"))
    assert res.rc == 0, res.err
    doc = res.json()
    assert doc["attestation_id"] == "att-1"
    assert doc["accounts"] == 5
    assert doc["leaves"] == 5
    assert doc["padding"] == 3
    assert doc["height"] == 3
    assert doc["totals"] == SAMPLE_TOTALS
    assert doc["excluded"] is None
    assert doc["root"]["sums"] == ["2250000001", "340282366922938463463374607432", "12345778623456"]
    assert len(doc["commitment"]) == 64
    root = json.loads((out / "root.json").read_text())
    assert root["commitment"] == doc["commitment"]
    assert root["root"] == doc["root"]


def test_csv_and_jsonl_build_the_same_tree(por, inputs, tmp_path):
    secret = tmp_path / "s.key"
    a = por(
        *build_args(
            inputs["sample.csv"],
            inputs["assets.toml"],
            tmp_path / "a",
            "--secret-file",
            secret,
            "--json",
        )
    )
    b = por(
        *build_args(
            inputs["sample.jsonl"],
            inputs["assets.toml"],
            tmp_path / "b",
            "--secret-file",
            secret,
            "--json",
        )
    )
    assert a.rc == b.rc == 0
    assert a.json()["commitment"] == b.json()["commitment"]


def test_root_document_is_public_only(por, inputs, tmp_path):
    out = tmp_path / "tree"
    res = por(*build_args(inputs["sample.csv"], inputs["assets.toml"], out))
    assert res.rc == 0, res.err
    root = json.loads((out / "root.json").read_text())
    assert set(root) <= PUBLIC_ROOT_KEYS
    assert root["format"] == "por-mst-v1"
    assert root["as_of"] == AS_OF
    assert root["assets"] == [
        {"code": "BTC", "decimals": 8},
        {"code": "ETH", "decimals": 18},
        {"code": "USDT", "decimals": 6},
    ]
    assert stat.S_IMODE((out / "root.json").stat().st_mode) == 0o644
    # the master secret: a private file, never in public output
    secret_file = out / "secret.key"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    secret_hex = secret_file.read_text().strip()
    assert len(bytes.fromhex(secret_hex)) >= 16
    public = (out / "root.json").read_text()
    assert secret_hex not in public
    assert secret_hex not in res.out + res.err
    # no salt in root.json either: cut every proof and look for its salts
    proofs = tmp_path / "proofs"
    assert por("liabilities", "proof", out, "--all", "--out-dir", proofs).rc == 0
    salts = [
        leaf["salt"] for f in proofs.glob("*.json") for leaf in json.loads(f.read_text())["leaves"]
    ]
    assert len(salts) == 5
    for salt in salts:
        assert salt not in public
        assert salt not in res.out
    for f in proofs.glob("*.json"):
        assert secret_hex not in f.read_text()


def test_tree_files_are_private(por, built):
    for path in (built / "tree").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path


def test_build_text_output_shows_totals_and_commitment(por, inputs, tmp_path):
    out = tmp_path / "tree"
    res = por(*build_args(inputs["sample.csv"], inputs["assets.toml"], out))
    assert res.rc == 0
    commitment = json.loads((out / "root.json").read_text())["commitment"]
    assert commitment in res.out
    for total in SAMPLE_TOTALS.values():
        assert total in res.out


# ----------------------------------------------------------------------------- build: bad input

CSV_CASES = [
    # id, body (after the header), line, value shown, message fragment
    ("negative", "alice,BTC,1\nbob,BTC,-1\n", 3, "'-1'", "negative"),
    ("too-many-decimals", "alice,BTC,1.123456789\n", 2, "'1.123456789'", "decimal places"),
    (
        "eth-19-decimals",
        "alice,BTC,1\nbob,ETH,1.0000000000000000001\n",
        3,
        "'1.0000000000000000001'",
        "decimal places",
    ),
    ("non-numeric", "alice,BTC,1\nbob,USDT,12abc\n", 3, "'12abc'", "not a decimal number"),
    ("empty-amount", "alice,BTC,1\nbob,USDT,\n", 3, None, "empty amount"),
    ("unknown-asset", "alice,BTC,1\nbob,DOGE,1\n", 3, "'DOGE'", "unknown asset"),
    ("duplicate", "alice,BTC,1\nbob,BTC,1\nalice,BTC,2\n", 4, "'alice,BTC'", "duplicate"),
    ("empty-account", "alice,BTC,1\n,BTC,1\n", 3, None, "empty account id"),
    (
        "account-257-bytes",
        "alice,BTC,1\n" + "q" * 257 + ",BTC,1\n",
        3,
        "'" + "q" * 77 + "...'",
        "256 bytes",
    ),
    (
        "amount-2-pow-128",
        "alice,ETH,340282366920938463463.374607431768211456\n",
        2,
        "'340282366920938463463.374607431768211456'",
        "2**128",
    ),
    ("bad-header", None, 1, "'acct,asset,amount'", "header"),
]


def _write_bad(tmp_path: Path, case_id: str, body: str | None) -> Path:
    path = tmp_path / "in" / "bad.csv"
    path.parent.mkdir(exist_ok=True)
    path.write_text(("acct,asset,amount\nalice,BTC,1\n") if body is None else HEADER + body)
    return path


@pytest.mark.parametrize(
    ("case_id", "body", "line", "value", "fragment"), CSV_CASES, ids=[c[0] for c in CSV_CASES]
)
def test_build_rejects_bad_csv(por, inputs, tmp_path, case_id, body, line, value, fragment):
    bad = _write_bad(tmp_path, case_id, body)
    work = tmp_path / "work"
    work.mkdir()
    out = work / "tree"
    res = por(*build_args(bad, inputs["assets.toml"], out))
    assert res.rc == 3, res.err
    text = res.err_flat
    assert str(bad) in text
    assert f"line {line}" in text
    if value is not None:
        assert value in text
    assert fragment in text
    assert not out.exists()
    assert leftovers(work, set()) == []
    assert res.out == ""


@pytest.mark.parametrize(
    ("case_id", "body", "line", "value", "fragment"), CSV_CASES, ids=[c[0] for c in CSV_CASES]
)
def test_build_bad_csv_leaves_existing_empty_out_dir_untouched(
    por, inputs, tmp_path, case_id, body, line, value, fragment
):
    bad = _write_bad(tmp_path, case_id, body)
    work = tmp_path / "work"
    out = work / "tree"
    out.mkdir(parents=True)
    res = por(*build_args(bad, inputs["assets.toml"], out, "--json"))
    assert res.rc == 3
    assert out.is_dir()
    assert list(out.iterdir()) == []
    assert leftovers(work, {"tree"}) == []
    doc = res.json()
    assert doc["exit_code"] == 3
    assert doc["error"] == "InputError"
    assert doc["file"] == str(bad)
    assert doc["line"] == line
    assert fragment in doc["message"]


JSONL_CASES = [
    ("negative", {"amount": "-2"}, "'-2'", "negative"),
    ("number-amount", {"amount": 2}, "'2'", "string"),
    ("too-many-decimals", {"amount": "0.000000001"}, "'0.000000001'", "decimal places"),
    ("unknown-asset", {"asset": "XRP"}, "'XRP'", "unknown asset"),
    ("duplicate", {"account_id": "alice"}, "'alice,BTC'", "duplicate"),
    ("empty-account", {"account_id": ""}, None, "empty account id"),
]


@pytest.mark.parametrize(
    ("case_id", "change", "value", "fragment"), JSONL_CASES, ids=[c[0] for c in JSONL_CASES]
)
def test_build_rejects_bad_jsonl(por, inputs, tmp_path, case_id, change, value, fragment):
    rows = [
        {"account_id": "alice", "asset": "BTC", "amount": "1"},
        {"account_id": "bob", "asset": "USDT", "amount": "1"},
        {"account_id": "carol", "asset": "BTC", "amount": "1", **change},
    ]
    bad = tmp_path / "in" / "bad.jsonl"
    bad.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "tree"
    res = por(*build_args(bad, inputs["assets.toml"], out))
    assert res.rc == 3, res.err
    text = res.err_flat
    assert str(bad) in text
    assert "line 3" in text
    if value is not None:
        assert value in text
    assert fragment in text
    assert not out.exists()


@pytest.mark.parametrize("content", ["", HEADER], ids=["zero-bytes", "header-only"])
def test_build_rejects_empty_file(por, inputs, tmp_path, content):
    bad = tmp_path / "in" / "empty.csv"
    bad.write_text(content)
    out = tmp_path / "tree"
    res = por(*build_args(bad, inputs["assets.toml"], out))
    assert res.rc == 3
    assert str(bad) in res.err_flat
    assert "empty" in res.err_flat
    assert not out.exists()


def test_build_rejects_total_reaching_2_pow_128(por, inputs, tmp_path):
    bad = tmp_path / "in" / "big.csv"
    bad.write_text(HEADER + "a,ETH,200000000000000000000\nb,ETH,200000000000000000000\n")
    out = tmp_path / "tree"
    res = por(*build_args(bad, inputs["assets.toml"], out))
    assert res.rc == 3
    assert str(bad) in res.err_flat
    assert "2**128" in res.err_flat
    assert "ETH" in res.err_flat
    assert not out.exists()


def test_build_rejects_missing_input_and_bad_assets(por, inputs, tmp_path):
    out = tmp_path / "tree"
    res = por(*build_args(tmp_path / "nope.csv", inputs["assets.toml"], out))
    assert res.rc == 3
    assert "nope.csv" in res.err_flat
    bad_assets = tmp_path / "in" / "bad.toml"
    bad_assets.write_text("[assets.btc]\ndecimals = 8\n")
    res = por(*build_args(inputs["sample.csv"], bad_assets, out))
    assert res.rc == 3
    assert str(bad_assets) in res.err_flat
    assert not out.exists()


def test_build_header_with_spaces_does_not_crash(por, inputs, tmp_path):
    """`account_id, asset, amount` must give exit 0 or 3, never an uncaught KeyError."""
    bad = tmp_path / "in" / "spaces.csv"
    bad.write_text("account_id, asset, amount\nalice,BTC,1\n")
    out = tmp_path / "tree"
    res = por(*build_args(bad, inputs["assets.toml"], out))
    assert res.rc in (0, 3)
    if res.rc == 3:
        assert not out.exists()
        assert str(bad) in res.err_flat


def test_build_refuses_non_empty_out_dir(por, inputs, tmp_path):
    out = tmp_path / "tree"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    res = por(*build_args(inputs["sample.csv"], inputs["assets.toml"], out))
    assert res.rc == 3
    assert "not empty" in res.err_flat
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    assert (out / "keep.txt").read_text() == "precious"
    assert leftovers(tmp_path, {"in", "tree"}) == []


def test_build_into_existing_empty_dir(por, inputs, tmp_path):
    out = tmp_path / "tree"
    out.mkdir()
    res = por(*build_args(inputs["sample.csv"], inputs["assets.toml"], out))
    assert res.rc == 0, res.err
    assert (out / "root.json").is_file()
    assert leftovers(tmp_path, {"in", "tree"}) == []


def test_build_creates_missing_parent_directories(por, inputs, tmp_path):
    out = tmp_path / "a" / "b" / "tree"
    res = por(*build_args(inputs["sample.csv"], inputs["assets.toml"], out))
    assert res.rc == 0, res.err
    assert (out / "root.json").is_file()
    assert sorted(p.name for p in out.parent.iterdir()) == ["tree"]


def test_build_force_replaces(por, inputs, tmp_path):
    out = tmp_path / "tree"
    out.mkdir()
    (out / "old.txt").write_text("x")
    res = por(*build_args(inputs["sample.csv"], inputs["assets.toml"], out, "--force"))
    assert res.rc == 0, res.err
    assert not (out / "old.txt").exists()
    assert (out / "root.json").is_file()
    assert leftovers(tmp_path, {"in", "tree"}) == []


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--split", "0"), ("--split", "65"), ("--negative", "clamp"), ("--workers", "-1")],
)
def test_build_bad_option_values_are_usage_errors(por, inputs, tmp_path, flag, value):
    out = tmp_path / "tree"
    res = por(*build_args(inputs["sample.csv"], inputs["assets.toml"], out, flag, value))
    assert res.rc == 2
    assert not out.exists()


def test_build_missing_required_option(por, inputs, tmp_path):
    res = por(
        "liabilities",
        "build",
        inputs["sample.csv"],
        "--assets",
        inputs["assets.toml"],
        "--out",
        tmp_path / "tree",
    )
    assert res.rc == 2
    assert "--attestation-id" in res.err
    assert not (tmp_path / "tree").exists()


def test_build_bad_as_of(por, inputs, tmp_path):
    out = tmp_path / "tree"
    res = por(
        "liabilities",
        "build",
        inputs["sample.csv"],
        "--assets",
        inputs["assets.toml"],
        "--attestation-id",
        "a",
        "--out",
        out,
        "--as-of",
        "yesterday",
    )
    assert res.rc in (2, 3)
    assert "yesterday" in res.err_flat
    assert not out.exists()


# ----------------------------------------------------------------------------- negative, duplicates


def test_negative_exclude_recorded_in_root_json(por, inputs, tmp_path):
    src = tmp_path / "in" / "neg.csv"
    src.write_text(
        HEADER + "alice,BTC,2\nbob,BTC,-0.5\ncarol,BTC,-1.25\nbob,ETH,-3\n"
        "alice,USDT,-0.000001\ndave,ETH,1\n"
    )
    out = tmp_path / "tree"
    res = por(*build_args(src, inputs["assets.toml"], out, "--negative", "exclude", "--json"))
    assert res.rc == 0, res.err
    root = json.loads((out / "root.json").read_text())
    excluded = root["excluded"]
    assert excluded["rows"] == 4
    per = excluded["assets"]
    assert set(per) == {"BTC", "ETH", "USDT"}
    assert per["BTC"]["rows"] == 2
    assert abs(int(per["BTC"]["total_base_units"])) == 175_000_000
    assert per["BTC"]["total"].lstrip("-") == "1.75"
    assert per["ETH"]["rows"] == 1
    assert abs(int(per["ETH"]["total_base_units"])) == 3 * 10**18
    assert per["USDT"]["rows"] == 1
    assert abs(int(per["USDT"]["total_base_units"])) == 1
    assert res.json()["excluded"] == excluded
    # excluded rows are not in the tree: totals are the positive rows only
    assert root["root"]["sums"] == ["200000000", "1000000000000000000", "0"]
    # bob's and carol's only rows were negative: they are not customers of this tree
    assert res.json()["accounts"] == 2
    res = por("liabilities", "proof", out, "carol", "-o", tmp_path / "carol.json")
    assert res.rc == 3
    assert "not found" in res.err_flat
    assert not (tmp_path / "carol.json").exists()
    assert por("liabilities", "audit", out).rc == 0


def test_negative_without_exclude_is_an_error(por, inputs, tmp_path):
    src = tmp_path / "in" / "neg.csv"
    src.write_text(HEADER + "alice,BTC,2\nbob,BTC,-0.5\n")
    out = tmp_path / "tree"
    res = por(*build_args(src, inputs["assets.toml"], out, "--negative", "error"))
    assert res.rc == 3
    assert "line 3" in res.err_flat
    assert not out.exists()


def test_negative_exclude_everything_is_an_error(por, inputs, tmp_path):
    src = tmp_path / "in" / "neg.csv"
    src.write_text(HEADER + "bob,BTC,-0.5\n")
    out = tmp_path / "tree"
    res = por(*build_args(src, inputs["assets.toml"], out, "--negative", "exclude"))
    assert res.rc == 3
    assert not out.exists()


def test_no_excluded_key_without_negative_rows(por, built):
    root = json.loads((built / "root.json").read_text())
    assert root.get("excluded") is None


def test_sum_duplicates(por, inputs, tmp_path):
    src = tmp_path / "in" / "dup.csv"
    src.write_text(
        HEADER + "alice,BTC,1\nbob,BTC,2\nalice,BTC,0.00000001\nalice,ETH,1\nalice,BTC,.5\n"
    )
    out = tmp_path / "tree"
    res = por(*build_args(src, inputs["assets.toml"], out))
    assert res.rc == 3
    assert "line 4" in res.err_flat
    assert "--sum-duplicates" in res.err_flat
    assert not out.exists()
    res = por(*build_args(src, inputs["assets.toml"], out, "--sum-duplicates", "--json"))
    assert res.rc == 0, res.err
    assert res.json()["accounts"] == 2
    proof = tmp_path / "alice.json"
    assert por("liabilities", "proof", out, "alice", "-o", proof).rc == 0
    res = por("verify-proof", proof, "--root", out / "root.json", "--json")
    assert res.rc == 0
    assert res.json()["balances"] == {"BTC": "1.50000001", "ETH": "1", "USDT": "0"}


# ----------------------------------------------------------------------------- the secret


def test_secret_file_created_0600_and_reused_reproducibly(por, inputs, tmp_path):
    secret = tmp_path / "keys" / "master.key"
    first = por(
        *build_args(
            inputs["sample.csv"],
            inputs["assets.toml"],
            tmp_path / "a",
            "--secret-file",
            secret,
            "--json",
        )
    )
    assert first.rc == 0, first.err
    assert secret.is_file()
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert not (tmp_path / "a" / "secret.key").exists()
    secret_hex = secret.read_text().strip()
    assert secret_hex not in (tmp_path / "a" / "root.json").read_text()
    assert secret_hex not in first.out
    before = secret.read_bytes()
    second = por(
        *build_args(
            inputs["sample.csv"],
            inputs["assets.toml"],
            tmp_path / "b",
            "--secret-file",
            secret,
            "--json",
        )
    )
    assert second.rc == 0, second.err
    assert secret.read_bytes() == before  # read, not replaced
    assert first.json()["commitment"] == second.json()["commitment"]
    assert (tmp_path / "a" / "root.json").read_bytes() == (
        tmp_path / "b" / "root.json"
    ).read_bytes()
    # the private tree files are reproducible too
    for f in (tmp_path / "a" / "tree").iterdir():
        if f.name != "meta.json":
            assert f.read_bytes() == (tmp_path / "b" / "tree" / f.name).read_bytes(), f.name
    # proofs cut from either tree are the same
    pa, pb = tmp_path / "pa.json", tmp_path / "pb.json"
    assert por("liabilities", "proof", tmp_path / "a", "alice", "-o", pa).rc == 0
    assert por("liabilities", "proof", tmp_path / "b", "alice", "-o", pb).rc == 0
    assert json.loads(pa.read_text()) == json.loads(pb.read_text())


def test_default_secret_reused_via_secret_file(por, inputs, built, tmp_path):
    res = por(
        *build_args(
            inputs["sample.csv"],
            inputs["assets.toml"],
            tmp_path / "again",
            "--secret-file",
            built / "secret.key",
            attestation="att-2025-06",
        )
    )
    assert res.rc == 0, res.err
    assert (tmp_path / "again" / "root.json").read_bytes() == (built / "root.json").read_bytes()


def test_a_new_secret_gives_a_new_root(por, inputs, tmp_path):
    a = por(*build_args(inputs["sample.csv"], inputs["assets.toml"], tmp_path / "a", "--json"))
    b = por(*build_args(inputs["sample.csv"], inputs["assets.toml"], tmp_path / "b", "--json"))
    assert a.rc == b.rc == 0
    assert a.json()["root"]["hash"] != b.json()["root"]["hash"]
    assert a.json()["root"]["sums"] == b.json()["root"]["sums"]
    assert (tmp_path / "a" / "secret.key").read_bytes() != (
        tmp_path / "b" / "secret.key"
    ).read_bytes()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_secret_file_readable_by_others_is_refused(por, inputs, tmp_path, mode):
    secret = tmp_path / "master.key"
    secret.write_text(os.urandom(32).hex() + "\n")
    os.chmod(secret, mode)
    out = tmp_path / "tree"
    res = por(
        *build_args(inputs["sample.csv"], inputs["assets.toml"], out, "--secret-file", secret)
    )
    assert res.rc == 3
    assert str(secret) in res.err_flat
    assert "600" in res.err_flat
    assert secret.read_text().strip() not in res.err + res.out
    assert not out.exists()
    assert stat.S_IMODE(secret.stat().st_mode) == mode  # not silently changed


@pytest.mark.parametrize(
    "content", ["not hex at all, a secret", "abcd\n"], ids=["not-hex", "short"]
)
def test_bad_secret_file_is_refused_without_echo(por, inputs, tmp_path, content):
    secret = tmp_path / "master.key"
    secret.write_text(content)
    os.chmod(secret, 0o600)
    out = tmp_path / "tree"
    res = por(
        *build_args(inputs["sample.csv"], inputs["assets.toml"], out, "--secret-file", secret)
    )
    assert res.rc == 3
    assert content.strip() not in res.err + res.out
    assert not out.exists()


def test_secret_file_inside_out_dir_survives_the_build(por, inputs, tmp_path):
    """`--secret-file OUT/master.key`: the build must keep the new secret (or refuse);
    exiting 0 while deleting the only copy of the master secret makes every proof impossible."""
    out = tmp_path / "tree"
    secret = out / "master.key"
    res = por(
        *build_args(inputs["sample.csv"], inputs["assets.toml"], out, "--secret-file", secret)
    )
    if res.rc != 0:
        assert res.rc in (2, 3)
        return
    assert secret.is_file(), "build exited 0 but the master secret it created is gone"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert por("liabilities", "proof", out, "alice", "-o", tmp_path / "p.json").rc == 0


# ----------------------------------------------------------------------------- split and pool


@pytest.mark.parametrize("split", [2, 3, 7])
def test_split(por, inputs, tmp_path, split):
    out = tmp_path / "tree"
    res = por(
        *build_args(inputs["sample.csv"], inputs["assets.toml"], out, "--split", split, "--json")
    )
    assert res.rc == 0, res.err
    doc = res.json()
    assert doc["accounts"] == 5
    assert doc["leaves"] == 5 * split
    assert doc["padding"] == 2 ** doc["height"] - 5 * split
    assert 2 ** (doc["height"] - 1) < 5 * split <= 2 ** doc["height"]
    assert doc["totals"] == SAMPLE_TOTALS
    for account, units in SAMPLE_BASE_UNITS.items():
        proof = tmp_path / f"{account}.json"
        assert por("liabilities", "proof", out, account, "-o", proof).rc == 0
        leaves = json.loads(proof.read_text())["leaves"]
        assert len(leaves) == split
        assert len({leaf["index"] for leaf in leaves}) == split
        assert len({leaf["salt"] for leaf in leaves}) == split
        res = por("verify-proof", proof, "--root", out / "root.json", "--json")
        assert res.rc == 0, res.err
        assert res.json()["balances_base_units"] == units
    assert por("liabilities", "audit", out).rc == 0


def test_split_reproducible_with_same_secret(por, inputs, tmp_path):
    secret = tmp_path / "s.key"
    a = por(
        *build_args(
            inputs["sample.csv"],
            inputs["assets.toml"],
            tmp_path / "a",
            "--split",
            "3",
            "--secret-file",
            secret,
            "--json",
        )
    )
    b = por(
        *build_args(
            inputs["sample.csv"],
            inputs["assets.toml"],
            tmp_path / "b",
            "--split",
            "3",
            "--secret-file",
            secret,
            "--json",
        )
    )
    c = por(
        *build_args(
            inputs["sample.csv"],
            inputs["assets.toml"],
            tmp_path / "c",
            "--split",
            "1",
            "--secret-file",
            secret,
            "--json",
        )
    )
    assert a.rc == b.rc == c.rc == 0
    assert a.json()["commitment"] == b.json()["commitment"]
    assert a.json()["commitment"] != c.json()["commitment"]
    assert a.json()["root"]["sums"] == c.json()["root"]["sums"]


def test_parallel_build_matches_serial_build(por, tmp_path):
    """Above the fork threshold (2**14 leaves) the work goes to worker processes; the tree
    must be the same as the one-process build with the same secret."""
    sample = tmp_path / "big.csv"
    res = por(
        "liabilities",
        "sample",
        "--accounts",
        "4200",
        "--assets",
        "2",
        "--out",
        sample,
        "--seed",
        "3",
    )
    assert res.rc == 0, res.err
    assets = tmp_path / "big.assets.toml"
    secret = tmp_path / "s.key"
    docs = []
    for name, workers in (("w2", "2"), ("w1", "1")):
        res = por(
            "liabilities",
            "build",
            sample,
            "--assets",
            assets,
            "--attestation-id",
            "big",
            "--out",
            tmp_path / name,
            "--as-of",
            AS_OF,
            "--split",
            "4",
            "--secret-file",
            secret,
            "--workers",
            workers,
            "--json",
        )
        assert res.rc == 0, res.err
        docs.append(res.json())
    assert docs[0]["leaves"] == 16800
    assert docs[0]["commitment"] == docs[1]["commitment"]
    for f in (tmp_path / "w1" / "tree").iterdir():
        if f.name != "meta.json":
            assert f.read_bytes() == (tmp_path / "w2" / "tree" / f.name).read_bytes(), f.name
    res = por("liabilities", "audit", tmp_path / "w2", "--workers", "2", "--json")
    assert res.rc == 0, res.err
    assert res.json()["leaves_recomputed"] is True
    for account in ("acct-00000000", "acct-00002100", "acct-00004199"):
        proof = tmp_path / f"{account}.json"
        assert por("liabilities", "proof", tmp_path / "w2", account, "-o", proof).rc == 0
        assert por("verify-proof", proof, "--root", tmp_path / "w2" / "root.json").rc == 0


# ----------------------------------------------------------------------------- --json everywhere


def test_every_json_output_parses(por, inputs, built, tmp_path):
    outputs = []
    outputs.append(por("liabilities", "proof", built, "alice"))  # the proof itself on stdout
    proof = tmp_path / "alice.json"
    outputs.append(por("liabilities", "proof", built, "alice", "-o", proof, "--json"))
    outputs.append(
        por("liabilities", "proof", built, "--all", "--out-dir", tmp_path / "all", "--json")
    )
    outputs.append(por("verify-proof", proof, "--json"))
    outputs.append(por("verify-proof", proof, "--root", built / "root.json", "--json"))
    outputs.append(por("liabilities", "audit", built, "--json"))
    for res in outputs:
        assert res.rc == 0, res.err
        json.loads(res.out)
    assert outputs[1].json()["file"] == str(proof)
    assert outputs[2].json()["proofs"] == 5
    assert outputs[3].json()["valid"] is True
    assert json.loads(outputs[0].out)["account_id"] == "alice"


def test_json_error_documents(por, inputs, built, tmp_path):
    res = por("liabilities", "proof", built, "nobody", "--json")
    assert res.rc == 3
    assert res.json()["exit_code"] == 3
    assert "not found" in res.json()["message"]
    res = por(
        "liabilities",
        "build",
        inputs["sample.csv"],
        "--assets",
        inputs["assets.toml"],
        "--attestation-id",
        "x",
        "--out",
        tmp_path / "t",
        "--bogus",
        "--json",
    )
    assert res.rc == 2
    assert res.json()["exit_code"] == 2


# ----------------------------------------------------------------------------- help and usage


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        path = (*prefix, name)
        yield path, command
        if isinstance(command, click.Group):
            yield from _commands(command, path)


ALL_COMMANDS = list(_commands(cli))


def test_root_help(por):
    res = por("--help")
    assert res.rc == 0
    assert "proof of reserves" in res.out.lower()
    for name in ("liabilities", "verify-proof"):
        assert name in res.out
    assert "3" in res.out and "exit" in res.out.lower()


@pytest.mark.parametrize(
    "path", [p for p, _ in ALL_COMMANDS], ids=[" ".join(p) for p, _ in ALL_COMMANDS]
)
def test_subcommand_help(por, path):
    command = dict(ALL_COMMANDS)[path]
    res = por(*path, "--help")
    assert res.rc == 0
    assert res.out.startswith("Usage: por " + " ".join(path))
    summary = (command.help or "").strip().splitlines()
    assert summary and summary[0], f"{' '.join(path)} has no help text"
    words = summary[0].split()[:4]
    assert " ".join(words) in " ".join(res.out.split())


@pytest.mark.parametrize(
    "path",
    [
        ("liabilities", "build"),
        ("liabilities", "proof"),
        ("liabilities", "audit"),
        ("verify-proof",),
    ],
)
def test_main_subcommands_document_their_options(por, path):
    res = por(*path, "-h")
    assert res.rc == 0
    text = " ".join(res.out.split())
    if path == ("liabilities", "build"):
        for opt in (
            "--assets",
            "--attestation-id",
            "--out",
            "--as-of",
            "--split",
            "--secret-file",
            "--negative",
            "--sum-duplicates",
            "--json",
        ):
            assert opt in text
        assert "0600" in text
    if path == ("liabilities", "proof"):
        for opt in ("-o", "--all", "--out-dir", "--out", "--from", "--layout"):
            assert opt in text
    if path == ("verify-proof",):
        for opt in ("--root", "--commitment", "--json"):
            assert opt in text


@pytest.mark.parametrize(
    "path", [p for p, _ in ALL_COMMANDS], ids=[" ".join(p) for p, _ in ALL_COMMANDS]
)
def test_bad_flag_is_usage_error(por, path):
    res = por(*path, "--no-such-flag")
    assert res.rc == 2
    assert "no-such-flag" in res.err


def test_unknown_command_is_usage_error(por):
    res = por("frobnicate")
    assert res.rc == 2


def test_version(por):
    res = por("--version")
    assert res.rc == 0
    assert "0." in res.out or "1." in res.out
