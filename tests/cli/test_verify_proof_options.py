"""`por verify-proof` options for other exchanges' formats: --root, the credential,
--batch-proof and --assets (issue 13).

Evidence: every format that publishes a root is checked against the given one (a hash file, a
JSON root file) and a different root fails naming "published root"; a format with no published
root, or an option a format does not read, is a usage error naming it; the credential comes
from a file or an environment variable, is never shown (text, --json, failures), and a file
readable by others is warned about; --assets is bounded.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from attestations.formats import FORMATS, FormatResult, FormatSpec, ProofInput
from verifier.base.errors import InvalidProof
from verifier.cli.proofs import FORMAT_HELP

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"
OKX = SAMPLES / "okx" / "merkle_proof_file.json"
OKX_ROOT = "ac6b39d2a0aa8112bd1aadff5e7d4b5c2b91cd54d595262ba4367f5d2db4160d"
SECRET = "s3cr3t-CREDENTIAL-value-9f2c"

# every existing format that publishes a root: the sample and the root published for it
PUBLISHED = [
    ("okx-v1", "okx/merkle_proof_file.json", OKX_ROOT),
    ("bitget", "bitget/merkel_tree_bg.json", "8eac815c495e6a67"),
    ("bybit", "bybit/mock_user_merkle_tree_path_40.json", None),
    (
        "bitmex",
        "bitmex/liabilities-100-proof.csv",
        "ceb08dfd693430ece544df853a989684056c0800088d61bfcc38c0d16cc1e1c7",
    ),
    (
        "binance-2022",
        "binance-2022",
        "0d955039b7944c33a7721745870254532d0c904f2804b2a4cde52afaaa3cbba0",
    ),
]


def _root_of(por, sample: Path, fmt: str) -> str:
    res = por("verify-proof", sample, "--format", fmt, "--json")
    assert res.rc == 0, res.err
    return str(res.json()["root"])


# ----------------------------------------------------------------------------- --root


@pytest.mark.parametrize(("fmt", "rel", "root"), PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_root_of_every_format_is_compared(por, tmp_path, fmt, rel, root):
    sample = SAMPLES / rel
    root = root or _root_of(por, sample, fmt)
    given = tmp_path / "root.txt"
    given.write_text(root + "\n")
    res = por("verify-proof", sample, "--format", fmt, "--root", given, "--json")
    assert res.rc == 0, res.out
    doc = res.json()
    assert doc["root_matches"] is True
    assert any("published root" in check for check in doc["checks"])
    other = root[:-1] + ("0" if root[-1] != "0" else "1")
    given.write_text(other)
    res = por("verify-proof", sample, "--format", fmt, "--root", given, "--json")
    assert res.rc == 3
    doc = res.json()
    assert (doc["valid"], doc["check"], doc["root_matches"]) == (False, "published root", False)
    assert other in doc["reason"] and root in doc["reason"]


def test_root_file_shapes(por, tmp_path):
    shapes = {
        "plain.txt": f"  0x{OKX_ROOT.upper()}\n",
        "string.json": json.dumps(OKX_ROOT),
        "rootHash.json": json.dumps({"rootHash": OKX_ROOT, "date": "2023-01-01"}),
        "nested.json": json.dumps({"root": {"hash": OKX_ROOT, "sums": ["1"]}}),
        "root_hash.json": json.dumps({"root_hash": OKX_ROOT}),
    }
    for name, content in shapes.items():
        (tmp_path / name).write_text(content)
        res = por("verify-proof", OKX, "--root", tmp_path / name, "--json")
        assert res.rc == 0, (name, res.out, res.err)
        assert res.json()["root_matches"] is True


def test_without_root_the_result_says_it_was_not_checked(por):
    res = por("verify-proof", OKX, "--json")
    assert res.rc == 0
    assert res.json()["root_matches"] is None
    text = por("verify-proof", OKX)
    assert "published root: not checked (give --root FILE)" in text.out


def test_root_mismatch_in_text_mode(por, tmp_path):
    given = tmp_path / "root.txt"
    given.write_text("00" * 32)
    res = por("verify-proof", OKX, "--root", given)
    assert res.rc == 3
    assert "INVALID okx-v1 proof" in res.out
    assert "published root" in res.out
    assert "DOES NOT MATCH" in res.out


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "holds no hash"),
        (b"\n \n", "holds no hash"),
        (b'{"date": "2023"}', "has none of the keys"),
        (b'{"root": 12}', "is not a hash string"),
        (b"[1, 2]", "JSON list"),
        (b"\xff\xfe", "not UTF-8"),
        (b"two hashes here", "not one hash"),
        (b"a" * 5000, "not one hash"),
    ],
)
def test_unreadable_root_file_is_invalid_input(por, tmp_path, content, words):
    given = tmp_path / "root.txt"
    given.write_bytes(content)
    res = por("verify-proof", OKX, "--root", given, "--json")
    assert res.rc == 3
    doc = res.json()
    assert words in doc["message"]
    assert str(given) in doc["message"]


def test_missing_root_file_names_it(por, tmp_path):
    res = por("verify-proof", OKX, "--root", tmp_path / "none.txt")
    assert res.rc == 3
    assert "root file not found" in res.err_flat


def test_por_root_and_commitment_still_work(por, built, tmp_path):
    proof = tmp_path / "alice.json"
    assert por("liabilities", "proof", built, "alice", "-o", proof).rc == 0
    assert por("verify-proof", proof, "--root", built / "root.json").rc == 0
    commitment = json.loads((built / "root.json").read_text())["commitment"]
    assert por("verify-proof", proof, "--commitment", commitment).rc == 0
    res = por("verify-proof", proof, "--assets", "3")
    assert res.rc == 2
    assert "apply to other exchanges' formats, not por" in res.err_flat


# ----------------------------------------------------------------------------- a fake format


def _fake_verify(inp: ProofInput) -> FormatResult:
    """Echoes what it was given; quotes the credential, as a careless format might."""
    if inp.credential == "wrong-" + SECRET:
        raise InvalidProof("leaf hash", f"nonce from credential {inp.credential} does not match")
    return FormatResult(
        format="fake",
        valid=True,
        checks=(f"derived the nonce from {inp.credential}",),
        balances={"BTC": "1"},
        root="ab" * 32,
        totals={},
        weaknesses=("a fake",),
        details={
            "credential_length": None if inp.credential is None else len(inp.credential),
            "assets": inp.assets,
            "batch_bytes": None if inp.batch_proof is None else len(inp.batch_proof),
            "root_name": inp.root_name,
        },
    )


@pytest.fixture
def fake(monkeypatch):
    """A registered format `fake` that reads every companion input."""

    def register(**flags: bool) -> None:
        spec = FormatSpec(
            "fake", "a test format", ("a fake",), lambda inp: False, _fake_verify, **flags
        )
        monkeypatch.setitem(FORMATS, "fake", spec)

    register(takes_credential=True, takes_batch_proof=True, takes_assets=True)
    return register


@pytest.fixture
def proof(tmp_path) -> Path:
    path = tmp_path / "fake.json"
    path.write_text("{}")
    return path


@pytest.fixture
def credential(tmp_path) -> Path:
    path = tmp_path / "credential.txt"
    path.write_text(SECRET + "\n")
    path.chmod(0o600)
    return path


def _no_secret(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text


def test_format_with_no_published_root_refuses_root(por, fake, proof, tmp_path):
    fake(published_root=False)
    given = tmp_path / "root.txt"
    given.write_text("ab" * 32)
    res = por("verify-proof", proof, "--format", "fake", "--root", given)
    assert res.rc == 2
    assert "--root: fake publishes no root to compare with" in res.err_flat


def test_format_that_needs_root_and_credential_says_so(por, fake, proof, credential):
    fake(needs_root=True, takes_credential=True)
    res = por("verify-proof", proof, "--format", "fake", "--credential-file", credential)
    assert res.rc == 2
    assert "--format fake needs --root FILE" in res.err_flat
    fake(needs_credential=True, takes_credential=True)
    res = por("verify-proof", proof, "--format", "fake")
    assert res.rc == 2
    assert "--format fake needs the user's credential" in res.err_flat


def test_credential_file_is_read_and_never_shown(por, fake, proof, credential, caplog):
    res = por("verify-proof", proof, "--format", "fake", "--credential-file", credential, "--json")
    assert res.rc == 0, res.err
    doc = res.json()
    assert doc["credential_length"] == len(SECRET)  # one trailing newline stripped
    assert doc["checks"] == ["derived the nonce from <credential>"]
    assert "warnings" not in doc  # mode 0600
    text = por("verify-proof", proof, "--format", "fake", "--credential-file", credential)
    assert text.rc == 0
    _no_secret(res.out, res.err, text.out, text.err, caplog.text)


def test_credential_in_a_failure_is_never_shown(por, fake, proof, tmp_path, caplog):
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("wrong-" + SECRET)
    wrong.chmod(0o600)
    for extra in ((), ("--json",)):
        res = por("verify-proof", proof, "--format", "fake", "--credential-file", wrong, *extra)
        assert res.rc == 3
        assert "<credential>" in res.out + res.err
        _no_secret(res.out, res.err, caplog.text)


def test_credential_file_readable_by_others_is_warned_about(por, fake, proof, credential):
    credential.chmod(0o644)
    res = por("verify-proof", proof, "--format", "fake", "--credential-file", credential, "--json")
    assert res.rc == 0
    (warning,) = res.json()["warnings"]
    assert "readable by group or others (mode 0644); chmod 600 it" in warning
    text = por("verify-proof", proof, "--format", "fake", "--credential-file", credential)
    assert "warning: the credential file" in text.err_flat
    _no_secret(res.out, res.err, text.out, text.err)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "the credential file is empty"),
        (b"\n", "the credential file is empty"),
        (SECRET.encode() + b"\nsecond", "holds more than one line"),
        (SECRET.encode() + b"\n\n", "holds more than one line"),
        (b"\xff" + SECRET.encode(), "not UTF-8"),
        (b"x" * 5000, "larger than 4,096 bytes"),
    ],
)
def test_bad_credential_file_is_invalid_input(por, fake, proof, tmp_path, content, words):
    path = tmp_path / "cred.txt"
    path.write_bytes(content)
    path.chmod(0o600)
    res = por("verify-proof", proof, "--format", "fake", "--credential-file", path, "--json")
    assert res.rc == 3
    assert words in res.json()["message"]
    _no_secret(res.out, res.err)


def test_credential_from_the_environment(por, fake, proof, monkeypatch, credential):
    monkeypatch.setenv("POR_TEST_CREDENTIAL", SECRET + "\r\n")
    args = ("verify-proof", proof, "--format", "fake", "--json")
    res = por(*args, "--credential-env", "POR_TEST_CREDENTIAL")
    assert res.rc == 0, res.err
    assert res.json()["credential_length"] == len(SECRET)
    _no_secret(res.out, res.err)
    monkeypatch.delenv("POR_TEST_CREDENTIAL")
    res = por(*args, "--credential-env", "POR_TEST_CREDENTIAL")
    assert res.rc == 2
    assert "that environment variable is not set" in res.err_flat
    assert "POR_TEST_CREDENTIAL" not in res.err  # a pasted credential is never echoed
    monkeypatch.setenv("POR_TEST_CREDENTIAL", "")
    assert por(*args, "--credential-env", "POR_TEST_CREDENTIAL").rc == 2
    res = por(*args, "--credential-env", SECRET)  # the credential pasted by mistake
    assert res.rc == 2
    _no_secret(res.out, res.err)
    res = por(*args, "--credential-env", "X", "--credential-file", credential)
    assert res.rc == 2
    assert "not both" in res.err_flat


def test_credential_for_a_format_that_reads_none_is_a_usage_error(por, credential):
    res = por("verify-proof", OKX, "--credential-file", credential)
    assert res.rc == 2
    assert "okx-v1 reads no credential" in res.err_flat
    _no_secret(res.out, res.err)


# ----------------------------------------------------------------------------- --assets, --batch-proof


@pytest.mark.parametrize("value", ["0", "-1", "100001", "abc", "9" * 400])
def test_assets_out_of_range_is_a_usage_error(por, fake, proof, value):
    res = por("verify-proof", proof, "--format", "fake", "--assets", value)
    assert res.rc == 2


def test_assets_and_batch_proof_reach_the_format(por, fake, proof, tmp_path):
    batch = tmp_path / "proof.csv"
    batch.write_text("a,b\n1,2\n")
    res = por(
        "verify-proof", proof, "--format", "fake", "--assets", "800", "--batch-proof", batch,
        "--json",
    )  # fmt: skip
    assert res.rc == 0, res.err
    doc = res.json()
    assert (doc["assets"], doc["batch_bytes"]) == (800, len(batch.read_bytes()))
    assert por("verify-proof", proof, "--format", "fake", "--assets", "100000").rc == 0
    res = por("verify-proof", proof, "--format", "fake", "--batch-proof", tmp_path / "none")
    assert res.rc == 3
    assert "batch proof file not found" in res.err_flat


def test_options_a_format_does_not_read_are_usage_errors(por, tmp_path):
    batch = tmp_path / "proof.csv"
    batch.write_text("x\n")
    res = por("verify-proof", OKX, "--assets", "3")
    assert res.rc == 2
    assert "--assets: okx-v1 has no asset-count parameter" in res.err_flat
    res = por("verify-proof", OKX, "--batch-proof", batch)
    assert res.rc == 2
    assert "--batch-proof: okx-v1 has no batch proofs" in res.err_flat


# ----------------------------------------------------------------------------- help


def test_help_names_every_registered_format():
    missing = [name for name in FORMATS if name not in FORMAT_HELP]
    assert not missing, f"--format help does not name {missing}"


def test_credential_is_never_an_argv_option(por):
    res = por("verify-proof", "--help")
    assert "--credential-file" in res.out and "--credential-env" in res.out
    assert "--credential " not in res.out and "--credential=" not in res.out


# ----------------------------------------------------------------------------- swissborg


@pytest.mark.skipif("swissborg" not in FORMATS, reason="swissborg is not registered yet")
def test_swissborg_credential_never_shown(por, tmp_path, caplog):
    folder = SAMPLES / "swissborg"
    secret = (folder / "credential_1.txt").read_text().strip()
    cred = tmp_path / "cred.txt"
    cred.write_text(secret + "\n")
    os.chmod(cred, 0o600)
    args = ("verify-proof", folder / "userLiab_1.json", "--root", folder / "auditRoots_1.json")
    for extra in ((), ("--json",)):
        res = por(*args, "--credential-file", cred, *extra)
        assert res.rc == 0, res.out + res.err
        assert secret not in res.out + res.err
    wrong = tmp_path / "wrong.txt"
    wrong.write_text(secret[:-1] + ("B" if secret[-1] != "B" else "C"))
    os.chmod(wrong, 0o600)
    for extra in ((), ("--json",)):
        res = por(*args, "--credential-file", wrong, *extra)
        assert res.rc == 3
        assert wrong.read_text() not in res.out + res.err + caplog.text
    res = por("verify-proof", folder / "userLiab_1.json", "--credential-file", cred)
    assert res.rc == 2  # the audit roots file is required
