"""`por liabilities proof --all --out FILE` (one container) and `--from FILE --account ID`:
the printed proof is byte-identical to the tree's, the per-file layout is still there, and
every misuse is a usage error (exit 2), every damaged input exit 3 with one message."""

from __future__ import annotations

import json
import stat

import pytest

from tests.cli.test_proofs import SAMPLE_WHOLE


def test_container_then_one_proof_from_it(por, built, tmp_path):
    out = tmp_path / "proofs.arrow"
    res = por("liabilities", "proof", "--tree", built, "--all", "--out", out, "--json")
    assert res.rc == 0, res.err
    doc = res.json()
    assert doc == {
        "out": str(out),
        "layout": "container",
        "format": "por-proofs-v1",
        "proofs": 5,
        "bytes": out.stat().st_size,
    }
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    seen = {}
    for account in SAMPLE_WHOLE:
        from_tree = por("liabilities", "proof", built, account)
        from_file = por("liabilities", "proof", "--from", out, "--account", account)
        assert from_file.rc == 0, from_file.err
        assert from_file.out == from_tree.out  # the same bytes, not only the same JSON
        assert por("liabilities", "proof", "--from", out, account).out == from_tree.out
        written = tmp_path / f"{account}.json"
        res = por("liabilities", "proof", "--from", out, account, "-o", written, "--json")
        assert res.rc == 0 and res.json()["file"] == str(written)
        assert stat.S_IMODE(written.stat().st_mode) == 0o600
        check = por("verify-proof", written, "--root", built / "root.json", "--json")
        assert check.rc == 0, check.err
        seen[account] = check.json()["balances"]
    assert seen == SAMPLE_WHOLE


def test_text_output_names_the_container(por, built, tmp_path):
    res = por("liabilities", "proof", built, "--all", "--out", tmp_path / "p.arrow")
    assert res.rc == 0
    assert "5 proofs written to" in res.err and "por-proofs-v1" in res.err
    assert res.out == ""


def test_tree_option_with_a_lone_account_argument(por, built):
    assert por("liabilities", "proof", "--tree", built, "alice").out == (
        por("liabilities", "proof", built, "alice").out
    )
    assert por("liabilities", "proof", "--tree", built, "--account", "alice").rc == 0


def test_files_layout_is_the_old_per_file_layout(por, built, tmp_path):
    old = por("liabilities", "proof", built, "--all", "--out-dir", tmp_path / "a")
    new = por("liabilities", "proof", built, "--all", "--layout", "files", "--out", tmp_path / "b")
    assert old.rc == new.rc == 0
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    res = por("liabilities", "proof", built, "--all", "--out-dir", tmp_path / "c", "--json")
    assert res.json() == {"out_dir": str(tmp_path / "c"), "layout": "files", "proofs": 5}


@pytest.mark.parametrize(
    "args",
    [
        ("--all",),  # no --out
        ("--all", "--out", "{t}/p.arrow", "--out-dir", "{t}/d"),
        ("--all", "--layout", "files"),
        ("--all", "alice", "--out", "{t}/p.arrow"),
        ("--all", "--out", "{t}/p.arrow", "-o", "{t}/x.json"),
        ("alice", "--out", "{t}/p.arrow"),
        ("alice", "--account", "bob"),
        ("alice", "extra"),
    ],
)
def test_misuse_is_a_usage_error(por, built, tmp_path, args):
    res = por("liabilities", "proof", built, *(a.replace("{t}", str(tmp_path)) for a in args))
    assert res.rc == 2, res.err
    assert "Traceback" not in res.err


@pytest.mark.parametrize(
    "args",
    [
        ("--from", "{t}/p.arrow", "--tree", "{tree}", "alice"),
        ("--from", "{t}/p.arrow", "{tree}", "alice"),
        ("--from", "{t}/p.arrow"),
        ("--from", "{t}/p.arrow", "alice", "--secret-file", "{tree}/secret.key"),
        ("--from", "{t}/p.arrow", "--all", "--out", "{t}/q.arrow"),
        ("--tree", "{tree}", "a", "b"),
        (),
    ],
)
def test_from_misuse_is_a_usage_error(por, built, tmp_path, args):
    assert por("liabilities", "proof", built, "--all", "--out", tmp_path / "p.arrow").rc == 0
    res = por(
        "liabilities",
        "proof",
        *(a.replace("{t}", str(tmp_path)).replace("{tree}", str(built)) for a in args),
    )
    assert res.rc == 2, res.err


def test_outputs_that_would_swallow_an_input_are_refused(por, built, tmp_path):
    for target in (built, built / "root.json", built / "tree" / "x.arrow", built / "secret.key"):
        res = por("liabilities", "proof", built, "--all", "--out", target)
        assert res.rc == 2, (target, res.err)
    assert json.loads((built / "root.json").read_text())["format"] == "por-mst-v1"
    por("liabilities", "proof", built, "--all", "--out", tmp_path / "p.arrow")
    res = por(
        "liabilities", "proof", "--from", tmp_path / "p.arrow", "alice", "-o", tmp_path / "p.arrow"
    )
    assert res.rc == 2
    assert (tmp_path / "p.arrow").stat().st_size > 1000


def test_damaged_container_is_exit_3_naming_the_row(por, built, tmp_path):
    out = tmp_path / "p.arrow"
    assert por("liabilities", "proof", built, "--all", "--out", out).rc == 0
    from attestations.proof_container import ProofContainer

    row = ProofContainer(out).find("alice")[0]
    data = bytearray(out.read_bytes())
    salt = bytes.fromhex(
        json.loads(por("liabilities", "proof", built, "alice").out)["leaves"][0]["salt"]
    )
    at = bytes(data).index(salt)
    data[at] ^= 1
    out.write_bytes(bytes(data))
    res = por("liabilities", "proof", "--from", out, "--account", "alice")
    assert res.rc == 3
    assert f"row {row} (account 'alice')" in res.err and str(out) in res.err
    assert "Traceback" not in res.err
    assert res.out == ""


@pytest.mark.parametrize("content", [b"", b"junk" * 100, b"ARROW1\x00\x00" + b"\x00" * 64])
def test_not_a_container_is_exit_3(por, tmp_path, content):
    (tmp_path / "p.arrow").write_bytes(content)
    res = por("liabilities", "proof", "--from", tmp_path / "p.arrow", "alice")
    assert res.rc == 3 and str(tmp_path / "p.arrow") in res.err


def test_missing_account_and_missing_file(por, built, tmp_path):
    assert por("liabilities", "proof", built, "--all", "--out", tmp_path / "p.arrow").rc == 0
    res = por("liabilities", "proof", "--from", tmp_path / "p.arrow", "nobody")
    assert res.rc == 3 and "nobody" in res.err
    assert por("liabilities", "proof", "--from", tmp_path / "none.arrow", "alice").rc == 3
    assert por("liabilities", "proof", "--from", tmp_path, "alice").rc == 3
